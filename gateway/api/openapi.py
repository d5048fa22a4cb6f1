"""The OpenAPI 3.1 description of the local API, served at /api/v1/openapi.json.

Written by hand, next to the handlers it describes, and checked against them by schemathesis
in the test suite: a handler that answers what the document does not promise fails CI.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.api.search import search_openapi
from gateway.federation.streams import MEDIA_TYPES

_ERROR = {"$ref": "#/components/schemas/Error"}


_HOW = ["console", "local_api", "local_handled"]


def _acknowledge_path(operation: str, summary: str, description: str) -> dict[str, Any]:
    acknowledged = {"application/json": {"schema": {"$ref": "#/components/schemas/Acknowledged"}}}
    return {
        "post": {
            "operationId": operation,
            "summary": summary,
            "description": description,
            "parameters": [
                {
                    "name": "message_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "format": "uuid"},
                }
            ],
            "requestBody": {
                "required": False,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "by": {
                                    "type": "string",
                                    "minLength": 1,
                                    "maxLength": 128,
                                    "description": "Opaque id of the person at this local "
                                    "system (never a name); the client id when absent.",
                                }
                            },
                        }
                    }
                },
            },
            "responses": {
                "200": {"description": "Acknowledged before.", "content": acknowledged},
                "202": {"description": "Acknowledgement queued.", "content": acknowledged},
                **_errors(400, 401, 404, 409, 413),
            },
        }
    }


def _errors(*statuses: int) -> dict[str, Any]:
    reasons = {
        400: "A parameter is malformed.",
        401: "Missing or unknown bearer token.",
        403: (
            "This client may not use that format or kind, or the message would pass on to "
            "another peer content a peer marked restricted or victim-protected "
            "(onward_not_allowed); nothing queued."
        ),
        404: (
            "No such message for this client (attachment_not_found: no such attachment in a "
            "message this client may see)."
        ),
        409: (
            "An attachment with this id and other content exists (attachment_exists), the "
            "message's sender is no longer a peer of this node (sender_not_a_peer), or, for a "
            "download, the sender has not finished transferring it (attachment_unavailable: "
            "try again later)."
        ),
        410: "content_deleted: retention deleted the message's content and its attachments.",
        413: (
            "The document is too large (document_too_complex names the bound), the "
            "attachment is (attachment_too_large), or an acknowledgement's body is over "
            "4096 bytes."
        ),
        415: "Unknown format or Content-Type.",
        500: (
            "envelope_unreadable: the message no longer opens with this node's keys "
            "(internal_error: anything else; the node's log has it)."
        ),
        502: (
            "attachment_corrupt: the stored attachment is not the one the message's signed "
            "envelope names (hash, size or authentication failed); nothing of it is served."
        ),
        422: (
            "The document or a record in it is invalid, exceeds a decoding bound "
            "(document_too_complex), cannot be routed, would seal larger than "
            "limits.max_envelope_bytes (message_too_large), or answers a message this node "
            "does not know (unknown_message), or names an attachment this client did not "
            "upload whole (attachment_unknown); nothing queued."
        ),
    }
    return {
        str(status): {
            "description": reasons[status],
            "content": {"application/json": {"schema": _ERROR}},
        }
        for status in statuses
    }


def openapi_document(formats: Sequence[str]) -> dict[str, Any]:
    """The document; formats lists the installed adapters' ids."""
    format_parameter = {
        "name": "format",
        "in": "query",
        "required": False,
        "description": "Format id; for POST it may instead be given by Content-Type.",
        "schema": {"type": "string", "enum": list(formats)},
    }
    search_path, search_schemas = search_openapi()
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Border Liaison Gateway local API",
            "version": "1",
            "description": "For police systems on this node's side: submit messages in your "
            "own format, follow their delivery, and pull incoming messages.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/messages": {
                "post": {
                    "operationId": "submitMessages",
                    "summary": "Queue a native document's messages for peers",
                    "parameters": [
                        format_parameter,
                        {
                            "name": "to",
                            "in": "query",
                            "required": False,
                            "description": "Peer ids; when absent the node's routing rules choose.",
                            "schema": {"type": "array", "items": {"type": "string"}},
                            "style": "form",
                            "explode": True,
                        },
                        {
                            "name": "case_id",
                            "in": "query",
                            "required": False,
                            "description": "Attach the messages to an existing case.",
                            "schema": {"type": "string", "format": "uuid"},
                        },
                        {
                            "name": "in_reply_to",
                            "in": "query",
                            "required": False,
                            "description": "Id of a message this node sent or received that "
                            "these messages answer: they join its case (case_id may then be "
                            "left out; if given it must be that case) and carry the id to the "
                            "peer. 400 invalid_parameter when it is not a UUID; 422 "
                            "unknown_message when this node neither sent nor received it.",
                            "schema": {"type": "string", "format": "uuid"},
                        },
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/vnd.vn-police+json": {"schema": {}},
                            "application/vnd.kh-police+xml": {"schema": {"type": "string"}},
                            "text/csv": {"schema": {"type": "string"}},
                            "application/vnd.blg.canonical+json": {"schema": {}},
                        },
                    },
                    "responses": {
                        "202": {
                            "description": "Durably queued.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Queued"}
                                }
                            },
                        },
                        **_errors(400, 401, 403, 413, 415, 422),
                    },
                }
            },
            "/api/v1/messages/{message_id}": {
                "get": {
                    "operationId": "getMessage",
                    "summary": "Delivery state of a message this client sent",
                    "parameters": [
                        {
                            "name": "message_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "format": "uuid"},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "The message's state.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/MessageStatus"}
                                }
                            },
                        },
                        **_errors(400, 401, 404),
                    },
                }
            },
            "/api/v1/inbox": {
                "get": {
                    "operationId": "getInbox",
                    "summary": "Incoming messages in this client's format, oldest first",
                    "parameters": [
                        format_parameter,
                        {
                            "name": "after",
                            "in": "query",
                            "required": False,
                            "description": "next_cursor of the previous page; 0 or absent "
                            "for the beginning.",
                            "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "A page of messages.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/InboxPage"}
                                }
                            },
                        },
                        **_errors(400, 401, 403, 415),
                    },
                }
            },
            "/api/v1/inbox/{message_id}/attachments/{attachment_id}": {
                "get": {
                    "operationId": "getAttachment",
                    "summary": "One attachment of an incoming message, decrypted and verified",
                    "description": "For a message the client's inbox lists (same kinds, same "
                    "victim-protected rule); any other message is answered 404 "
                    "attachment_not_found, like an unknown one. The body is sent only once "
                    "every check of docs/PROTOCOL.md 7.3 passed: a refusal never carries part "
                    "of the plaintext. Content-Type is the media type the sender declared; "
                    "Content-Disposition is attachment; never cached.",
                    "parameters": [
                        {
                            "name": "message_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "format": "uuid"},
                        },
                        {
                            "name": "attachment_id",
                            "in": "path",
                            "required": True,
                            "description": "The id the message's attachments are listed by.",
                            "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,128}$"},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "The attachment's plaintext.",
                            "headers": {
                                "Content-Disposition": {"schema": {"type": "string"}},
                                "X-Content-Type-Options": {
                                    "schema": {"type": "string", "const": "nosniff"}
                                },
                                "Cache-Control": {
                                    "schema": {"type": "string", "const": "no-store"}
                                },
                            },
                            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                        },
                        **_errors(400, 401, 404, 409, 410, 500, 502),
                    },
                }
            },
            "/api/v1/attachments/{attachment_id}": {
                "put": {
                    "operationId": "putAttachment",
                    "summary": "Upload a photo or scanned record that a message then names "
                    "by this id (anh[], tai_lieu[], Photo ref=, Document ref=, attachment_ids)",
                    "description": "The body is the file itself, streamed; the gateway keeps "
                    "it encrypted. At most limits.max_attachment_bytes (413 "
                    "attachment_too_large). The same content again answers 200; other content "
                    "under the id, 409 attachment_exists.",
                    "parameters": [
                        {
                            "name": "attachment_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,128}$"},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            media_type: {"schema": {"type": "string", "format": "binary"}}
                            for media_type in MEDIA_TYPES
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "Uploaded before with this content.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Attachment"}
                                }
                            },
                        },
                        "201": {
                            "description": "Stored (encrypted).",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Attachment"}
                                }
                            },
                        },
                        **_errors(400, 401, 409, 413, 415),
                    },
                }
            },
            "/api/v1/inbox/{message_id}/acknowledge": _acknowledge_path(
                "acknowledgeMessage",
                "A person at this agency acknowledges a received message",
                "Sends the acknowledgement back to the message's sender (docs/PROTOCOL.md "
                "section 13), once per message: 202 when this call queued it, 200 when the "
                "message was acknowledged before (the body is then that acknowledgement).",
            ),
            "/api/v1/inbox/{message_id}/handled": _acknowledge_path(
                "messageHandled",
                "This local system has finished with a received message",
                "Counts as the acknowledgement (how: local_handled) if none was given yet; "
                "answers as acknowledge does.",
            ),
            **search_path,
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "getOpenApi",
                    "summary": "This document (for configured clients only: it names formats)",
                    "responses": {
                        "200": {"description": "The OpenAPI document."},
                        **_errors(401),
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                **search_schemas,
                "Attachment": {
                    "type": "object",
                    "required": ["attachment_id", "size", "sha256", "media_type"],
                    "properties": {
                        "attachment_id": {"type": "string"},
                        "size": {"type": "integer", "minimum": 0},
                        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                        "media_type": {"type": "string"},
                    },
                },
                "Problem": {
                    "type": "object",
                    "required": ["location", "message"],
                    "properties": {
                        "location": {"type": "string"},
                        "message": {"type": "string"},
                    },
                },
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "problems": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Problem"},
                                },
                            },
                        }
                    },
                },
                "Queued": {
                    "type": "object",
                    "required": ["messages", "warnings"],
                    "properties": {
                        "messages": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["id", "to", "case_id", "status_url", "redacted"],
                                "properties": {
                                    "id": {"type": "string", "format": "uuid"},
                                    "to": {"type": "string"},
                                    "case_id": {"type": "string", "format": "uuid"},
                                    "status_url": {"type": "string"},
                                    "redacted": {"type": "array", "items": {"type": "string"}},
                                },
                            },
                        },
                        "warnings": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Problem"},
                        },
                    },
                },
                "MessageStatus": {
                    "type": "object",
                    "required": ["id", "to", "kind", "case_id", "state", "attempts"],
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "to": {"type": "string"},
                        "kind": {"type": "string"},
                        "case_id": {"type": "string", "format": "uuid"},
                        "sender_reference": {"type": "string"},
                        "state": {
                            "type": "string",
                            "enum": [
                                "queued",
                                "sending",
                                "delivered",
                                "rejected",
                                "expired",
                                "dead",
                            ],
                        },
                        "attempts": {"type": "integer"},
                        "last_error": {"type": ["string", "null"]},
                        "queued_at": {"type": ["string", "null"], "format": "date-time"},
                        "receipt_received_at": {"type": ["string", "null"], "format": "date-time"},
                        "finished_at": {"type": ["string", "null"], "format": "date-time"},
                        "acknowledgement": {"$ref": "#/components/schemas/AcknowledgementState"},
                        "cancellation": {
                            "type": "object",
                            "description": "Only for a cancellation: every copy of the "
                            "case's cancellations, per recipient (docs/PROTOCOL.md section 14).",
                            "properties": {
                                "recipients": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "to": {"type": "string"},
                                            "id": {"type": "string", "format": "uuid"},
                                            "status": {
                                                "type": "string",
                                                "enum": [
                                                    "sent",
                                                    "receipted",
                                                    "confirmed",
                                                    "rejected",
                                                    "failed",
                                                ],
                                            },
                                            "queued_at": {"type": ["string", "null"]},
                                            "receipted_at": {"type": ["string", "null"]},
                                            "rejected_reason": {"type": ["string", "null"]},
                                            "confirmed_at": {"type": ["string", "null"]},
                                            "withdrawn_deliveries": {"type": ["integer", "null"]},
                                        },
                                    },
                                }
                            },
                        },
                    },
                },
                "AcknowledgementState": {
                    "type": "object",
                    "description": "A person's acknowledgement at the recipient (section 13): "
                    "not_required (no rule asked for one), awaiting (before due_at), overdue "
                    "(after it), acknowledged (by, when, how).",
                    "required": ["status", "due_at"],
                    "properties": {
                        "status": {
                            "type": "string",
                            "enum": ["not_required", "awaiting", "overdue", "acknowledged"],
                        },
                        "due_at": {"type": ["string", "null"], "format": "date-time"},
                        "acknowledged_at": {"type": "string", "format": "date-time"},
                        "acknowledged_by": {"type": "string"},
                        "how": {"type": "string", "enum": _HOW},
                        "recorded_at": {"type": "string", "format": "date-time"},
                    },
                },
                "Acknowledged": {
                    "type": "object",
                    "required": ["id", "acknowledgement"],
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "acknowledgement": {
                            "type": "object",
                            "required": ["id", "acknowledged_at", "acknowledged_by", "how"],
                            "properties": {
                                "id": {"type": "string", "format": "uuid"},
                                "acknowledged_at": {"type": "string", "format": "date-time"},
                                "acknowledged_by": {"type": "string"},
                                "how": {"type": "string", "enum": _HOW},
                            },
                        },
                    },
                },
                "InboxAttachment": {
                    "type": "object",
                    "required": ["id", "media_type", "size", "url"],
                    "additionalProperties": False,
                    "properties": {
                        "id": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,128}$"},
                        "media_type": {"type": "string"},
                        "size": {"type": "integer", "minimum": 0},
                        "url": {"type": "string"},
                    },
                },
                "InboxPage": {
                    "type": "object",
                    "required": ["messages", "next_cursor"],
                    "properties": {
                        "next_cursor": {"type": "string"},
                        "messages": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["id", "from", "kind", "case_id", "document"],
                                "properties": {
                                    "id": {"type": "string", "format": "uuid"},
                                    "from": {"type": "string"},
                                    "kind": {"type": "string"},
                                    "case_id": {"type": "string", "format": "uuid"},
                                    "in_reply_to": {
                                        "type": ["string", "null"],
                                        "description": "Id of the message this one answers.",
                                    },
                                    "received_at": {"type": ["string", "null"]},
                                    "case_state": {
                                        "type": "string",
                                        "enum": ["open", "cancelled"],
                                        "description": "cancelled once the sender cancelled "
                                        "the case (docs/PROTOCOL.md section 14).",
                                    },
                                    "format": {"type": "string"},
                                    "media_type": {"type": "string"},
                                    "attachments": {
                                        "type": "array",
                                        "description": "The message's attachments, in the "
                                        "order its envelope names them; url downloads one "
                                        "(getAttachment). Empty once retention deleted the "
                                        "content.",
                                        "items": {"$ref": "#/components/schemas/InboxAttachment"},
                                    },
                                    "document": {"type": ["string", "null"]},
                                    "warnings": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Problem"},
                                    },
                                    "error": {
                                        "type": "string",
                                        "description": "Set instead of document: "
                                        "cannot_render (the format cannot carry it), "
                                        "content_deleted (retention deleted its content).",
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    }
