"""What the e-mail channel keeps of a message's text: the resident's own words, as safe plain text.
(Plain functions: no database, no mailbox.)"""
from __future__ import annotations

import pytest

from plugins.intake.email.parse import clean_subject, message_key, parse_email
from plugins.intake.email.text import clamp, hide_addresses, html_to_text, trim_reply

NEW_WORDS = "The hydrant on Florida Park Dr is leaking again."

QUOTED = {
    "gmail": f"{NEW_WORDS}\n\nOn Tue, Mar 3, 2026 at 9:00 AM City of Palm Coast <no-reply@city.example>\nwrote:\n> We received your report\n",
    "french-client": f"{NEW_WORDS}\n\nLe mar. 3 mars 2026 à 09:00, Ville de Palm Coast <no-reply@city.example> a écrit :\n> Nous avons reçu\n",
    "outlook": f"{NEW_WORDS}\n\n________________________________\nFrom: City of Palm Coast <no-reply@city.example>\nSent: Tuesday, March 3, 2026 9:00 AM\nSubject: We received",
    "outlook-french": f"{NEW_WORDS}\n\nDe : Ville de Palm Coast\nEnvoyé : mardi 3 mars 2026 09:00\nObjet : Nous avons reçu",
    "original-message": f"{NEW_WORDS}\n-----Original Message-----\nFrom: someone\nold text",
    "signature": f"{NEW_WORDS}\n-- \nJane Doe\n386-555-0100",
    "phone": f"{NEW_WORDS}\n\nSent from my iPhone",
    "phone-french": f"{NEW_WORDS}\n\nEnvoyé de mon iPhone",
}


@pytest.mark.parametrize("text", QUOTED.values(), ids=QUOTED)
def test_quoted_history_and_signatures_are_cut_from_what_a_mail_program_sends(text):
    assert trim_reply(text) == NEW_WORDS


def test_a_forwarded_message_with_no_words_of_its_own_is_kept_for_a_new_case_but_adds_nothing_as_a_reply():
    forwarded = "---------- Forwarded message ---------\nFrom: Neighbour\n\nThe drain is clogged."
    assert trim_reply(forwarded) == forwarded
    assert trim_reply("On Mon, Mar 2, 2026, City wrote:\n> Case number: PC-2026-000001", keep_all_when_empty=False) == ""


def test_html_is_reduced_to_text_without_markup_scripts_or_quoted_history():
    html = ("<p>Broken&nbsp;<i>bench</i> &lt;here&gt;</p><script>steal()</script><style>.x{}</style>"
            "<blockquote type='cite'>old</blockquote><div id='divRplyFwdMsg'>From: City</div><p>Thanks<br>Ann</p>")
    assert html_to_text(html) == "Broken bench <here>\n\nThanks\nAnn"
    assert html_to_text("<p>unclosed <b>bold<p>next") == "unclosed bold\nnext"


def test_texts_the_public_may_see_carry_no_addresses_and_stay_within_the_limit():
    assert hide_addresses("write to jane.doe+311@example.org or j@x.io") == "write to […@…] or […@…]"
    assert clamp("x" * 10, 10) == "x" * 10
    cut = clamp("word " * 100, 50)
    assert len(cut) <= 50 and cut.endswith("\n[…]")


def test_subject_prefixes_of_replies_and_forwards_are_dropped():
    assert clean_subject("RE: Re:  TR : Fwd: Streetlight") == "Streetlight"
    assert clean_subject("Réf. streetlight") == "Réf. streetlight"


def test_a_message_is_known_by_its_message_id_whatever_its_case_or_brackets():
    assert message_key("<ABC@mail.example>", b"one") == message_key("abc@mail.example", b"two")
    assert message_key("", b"one") != message_key("", b"two")


def test_a_broken_message_is_parsed_without_raising():
    raw = (b"From: =?x-unknown?q?J=E9r=F4me?= <jerome@example.org>\r\nSubject: =?utf-8?b?broken\r\n"
           b"Content-Type: text/plain; charset=x-no-such-charset\r\nContent-Transfer-Encoding: base64\r\n\r\n@@not base64@@\r\n")
    email = parse_email(raw)
    assert email.sender == "jerome@example.org"
    assert isinstance(email.text, str) and email.message_id == ""
