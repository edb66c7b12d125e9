"""The words a share draws and prints itself (its card's QR line, its page's buttons and invitation),
in the languages the player speaks, chosen for the story's locale as the player chooses its own
(``player.strings.language_for``: 'de-AT' → German, 'pt-PT' → Brazilian Portuguese, else English).

A card's own texts (title, labels, list title) come from the template, translated there; these
are the few the server adds around them. A share frozen before it kept its locale is in English.
"""
from __future__ import annotations

from typing import TypedDict

from ..player.strings import language_for


class Words(TypedDict):
    scan: tuple[str, str]  # the card's line beside its QR code, in two lines
    top: str               # a list's heading when the template gives none
    open_in: str           # {app}
    open_in_app: str       # the docked button's label for screen readers
    no_app: str            # {site}
    get_your_own: str
    waiting: str           # {app}
    waiting_period: str    # {period} {app}
    get_app: str           # {app}
    a_story: str           # a card with no title


WORDS: dict[str, Words] = {
    "en": {"scan": ("Scan to see", "the whole story"), "top": "Top", "open_in": "Open in {app}",
           "open_in_app": "Open in the app", "no_app": "No app? Visit {site}", "get_your_own": "Get your own",
           "waiting": "Your own story is waiting in {app}.",
           "waiting_period": "Your own {period} story is waiting in {app}.", "get_app": "Get {app}",
           "a_story": "A story"},
    "de": {"scan": ("Scannen für", "die ganze Story"), "top": "Top", "open_in": "In {app} öffnen",
           "open_in_app": "In der App öffnen", "no_app": "Keine App? Besuch {site}", "get_your_own": "Hol dir deine",
           "waiting": "Deine eigene Story wartet in {app}.",
           "waiting_period": "Deine Story für {period} wartet in {app}.", "get_app": "{app} holen",
           "a_story": "Eine Story"},
    "fr": {"scan": ("Scannez pour voir", "toute l’histoire"), "top": "Top", "open_in": "Ouvrir dans {app}",
           "open_in_app": "Ouvrir dans l’app", "no_app": "Pas l’app ? Rendez-vous sur {site}",
           "get_your_own": "Découvrez la vôtre", "waiting": "Votre propre story vous attend dans {app}.",
           "waiting_period": "Votre story {period} vous attend dans {app}.", "get_app": "Obtenir {app}",
           "a_story": "Une story"},
    "es": {"scan": ("Escanea para ver", "la historia completa"), "top": "Top", "open_in": "Abrir en {app}",
           "open_in_app": "Abrir en la app", "no_app": "¿No tienes la app? Visita {site}",
           "get_your_own": "Consigue la tuya", "waiting": "Tu propia historia te espera en {app}.",
           "waiting_period": "Tu historia de {period} te espera en {app}.", "get_app": "Descargar {app}",
           "a_story": "Una historia"},
    "pt-BR": {"scan": ("Escaneie para ver", "a história completa"), "top": "Top", "open_in": "Abrir no {app}",
              "open_in_app": "Abrir no app", "no_app": "Não tem o app? Acesse {site}",
              "get_your_own": "Tenha a sua", "waiting": "A sua história está esperando no {app}.",
              "waiting_period": "A sua história de {period} está esperando no {app}.", "get_app": "Baixar {app}",
              "a_story": "Uma história"},
    "tr": {"scan": ("Hikâyenin tamamı için", "kodu tara"), "top": "En iyiler", "open_in": "{app} ile aç",
           "open_in_app": "Uygulamada aç", "no_app": "Uygulama yok mu? {site} adresine git",
           "get_your_own": "Seninkini al", "waiting": "Kendi hikâyen {app} içinde seni bekliyor.",
           "waiting_period": "Kendi {period} hikâyen {app} içinde seni bekliyor.",
           "get_app": "{app} uygulamasını indir",
           "a_story": "Bir hikâye"},
    "ja": {"scan": ("スキャンして", "ストーリーをすべて見る"), "top": "トップ", "open_in": "{app}で開く",
           "open_in_app": "アプリで開く", "no_app": "アプリがない場合は {site} へ",
           "get_your_own": "あなたのストーリーも",
           "waiting": "あなたのストーリーが{app}で待っています。",
           "waiting_period": "あなたの{period}のストーリーが{app}で待っています。", "get_app": "{app}を入手",
           "a_story": "ストーリー"},
    "ar": {"scan": ("امسح الرمز", "لترى القصة كاملة"), "top": "الأفضل", "open_in": "افتح في {app}",
           "open_in_app": "افتح في التطبيق", "no_app": "ليس لديك التطبيق؟ زُر {site}",
           "get_your_own": "احصل على قصتك", "waiting": "قصتك الخاصة بانتظارك في {app}.",
           "waiting_period": "قصتك عن {period} بانتظارك في {app}.", "get_app": "احصل على {app}",
           "a_story": "قصة"},
}


def words(tag: str | None) -> Words:
    """The share's words for a story in ``tag`` (None: a share frozen before shares kept one)."""
    return WORDS.get(language_for(tag or "en"), WORDS["en"])
