"""Received images in real Chromium: an officer's case page shows the photo decoded
(naturalWidth), with nothing blocked by the CSP; an operator's page of the same
victim-protected handover has no image, and the image's URL itself is refused."""

from __future__ import annotations

from gateway.console import Role
from tests.console.attachments_support import png, receive_with_attachments
from tests.console.browser import NewPage, console_messages, screenshot, sign_in
from tests.console.cases_support import handover_from_ratanakiri
from tests.console.conftest import ConsoleHarness

PHOTO = png(64, 48)


async def test_an_officer_sees_the_photo_an_operator_does_not(
    console: ConsoleHarness, new_page: NewPage
) -> None:
    message_id, case, (photo,) = await receive_with_attachments(
        console, handover_from_ratanakiri(), [(PHOTO, "image/png")], handling="victim_protected"
    )
    sign_in_url = str(console.client.make_url("/console/sign-in"))
    case_url = str(console.client.make_url(f"/console/cases/{case}"))
    image_url = str(console.client.make_url(f"/console/messages/{message_id}/attachments/{photo}"))

    name, password = await console.add_user(Role.OFFICER, language="vi")
    officer = await new_page()
    await sign_in(officer, sign_in_url, name, password)
    logged = console_messages(officer)
    await officer.goto(case_url)
    image = officer.locator(f'li.attachment[data-attachment-id="{photo}"] img.attachment-image')
    await image.scroll_into_view_if_needed()
    await officer.wait_for_function(
        "image => image.complete && image.naturalWidth > 0", arg=await image.element_handle()
    )
    size = await image.evaluate("image => [image.naturalWidth, image.naturalHeight]")
    assert size == [64, 48]
    link = officer.locator(f'li.attachment[data-attachment-id="{photo}"] a.attachment-download')
    assert await link.get_attribute("download") == f"{photo}.png"
    await screenshot(officer, "case-attachments-vi")
    assert [m.text for m in logged if m.type == "error"] == []

    name, password = await console.add_user(Role.OPERATOR, language="en")
    operator = await new_page()
    await sign_in(operator, sign_in_url, name, password)
    await operator.goto(case_url)
    assert await operator.locator("article.message").count() == 1
    assert await operator.locator("img.attachment-image, .attachments").count() == 0
    assert await operator.locator("p.content-withheld").count() == 1
    refused = await operator.goto(image_url)
    assert refused is not None
    assert refused.status == 403
    assert await operator.locator("main.error-page").get_attribute("data-reason") == "forbidden"
