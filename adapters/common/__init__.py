"""Normalisations every partner format needs: Unicode, digits, local time, country names,
Latin name forms, and the check that reports what an encoder could not carry."""

from __future__ import annotations
