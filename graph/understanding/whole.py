"""The whole of the money, said in so many words, and what says it is only a part.

"full refund", "refund everything", "all my money back", "reembolso total", "pura refund"
are the whole order's unrefunded amount, final. Everywhere else a word for "all" may be
about the items ("everything works except the left earbud", "the whole box arrived
damaged") or be negated ("a partial refund, not the full amount"): then the whole is
stated back, or how much is asked. Folded text, linear-time patterns.
"""

from __future__ import annotations

import re
from typing import Final

EXPLICIT_FULL_RE: Final = re.compile(
    r"\b(?:full refund|refund (?:me |it |this |the order |my order |them )?in full|"
    r"refund (?:me )?(?:for )?(?:everything|all of it)|(?:all|every cent|every penny) (?:of )?my "
    r"money|my money back in full|(?:the|my) (?:whole|full|entire) (?:amount|order|price|"
    r"payment|sum|thing)|everything back|all (?:of )?it back|"
    r"reembolso (?:total|completo|integro)|todo (?:el dinero|el importe|mi dinero)|"
    r"devolucion (?:total|completa)|devuelv\w* todo|"
    r"rembours\w* (?:total|integral|integralement|en totalite|complet|de tout)|"
    r"tout le montant|la totalite|en entier|integralement|"
    r"(?:komplett|vollstandig|ganz) (?:erstatt|zuruck)\w*|(?:den )?volle?n? (?:betrag|preis)|"
    r"volle erstattung|gesamte?n? (?:betrag|preis)|alles zuruck|den ganzen betrag|"
    r"reembolso (?:total|integral|completo)|o valor (?:todo|total|inteiro)|tudo de volta|"
    r"todo o dinheiro|rimborso (?:totale|completo|integrale)|per intero|tutto l'importo|"
    r"tutti i (?:miei )?soldi|rimborsa\w* tutto|"
    r"(?:pura|poora|pure|poore) (?:refund|paise|paisa)|saara paisa|saare paise)\b"
)
"""The whole, in so many words, in each language."""

# "the full price of the left earbud", "reembolso completo del auricular", "left earbud ka
# poora refund": the whole of one part (how much is asked), not of the order.
FULL_OF_A_PART_RE: Final = re.compile(
    r"\b(?:full|total|whole|entire|complete|completo|completa|total|integral|intégral|"
    r"integrale|totale|voll\w*|ganze\w*) (?:refund|price|cost|amount|reembolso|precio|"
    r"remboursement|prix|erstattung|preis|rimborso|prezzo|preco|valor)"
    r" (?:of|for|del|de la|de l'|de|du|des|dell'|della|dello|do|da|dos|das|fur|vom|von)"
    r" (?!(?:the |my |this |that |el |la |mi |mon |ma |mein\w* |il |o |a |mio |meu |minha )?"
    r"(?:order|orden|pedido|commande|bestellung|ordine|encomenda|purchase|compra|achat|kauf|"
    r"acquisto|money|dinero|argent|geld|soldi|dinheiro|everything|todo|tout|alles|tutto|tudo)"
    r"\b)[a-z]|"
    r"\b(?:reembolso|remboursement|rimborso|erstattung) (?:completo|completa|total|totale|"
    r"integral|integrale|complet|entier|intero|komplette?)"
    r"(?: (?:del|de la|de|du|des|della|dello|do|da|dos|das|fur|von) | de l'| dell')"
    r"(?!(?:the |el |la |mi |mon |ma |il |o |a |mio |meu |minha )?(?:pedido|commande|ordine|"
    r"encomenda|bestellung|compra|achat|acquisto|dinero|argent|soldi|dinheiro)\b)[a-z]|"
    r"\b(?!order\b|ordine\b)[a-z]+ (?:ka|ki|ke) (?:poora|pura|pure|poore|full) "
)
"""A word for the whole about one named part."""

HUNDRED_PERCENT_REFUND_RE: Final = re.compile(
    r"\b(?:refund|reembolso|remboursement|erstattung|rimborso|back)\w*(?: \w+){0,2} ?\u00a7 ?%|"
    r"\u00a7 ?% (?:\w+ ){0,2}(?:refund|reembolso|remboursement|erstattung|rimborso|back)"
)
"""100% tied to the refund ("a 100% refund", "refund 100%"), not to certainty or damage."""

BOUND_RE: Final = re.compile(
    r"\b(?:less than|under|below|at most|up to|menos de|moins de|weniger als|unter|meno di|"
    r"kam se kam|se kam|no mas de|pas plus de|nicht mehr als|non piu di) (?:\$ ?)?(\u00a7)"
)
"""A bound on the amount: the number is not the amount asked for."""

ONE_THING_RE: Final = re.compile(
    r"(\u00a7) (?!(?:usdc|usd|dollars?|dolares|dolar|dollari|dollaro|euros?|bucks|buck|eur|"
    r"back|zuruck|de vuelta|de volta|indietro|wapas|vapas|en retour|please|pls|bitte|"
    r"por favor|per favore|s'il|refund\w*|more|mas|mehr|aur)\b)[a-z]"
)
"""A number before a word that is no unit: with the number "one" in words, a count."""

PERCENT_OF_A_PART_RE: Final = re.compile(
    r"\u00a7 ?% (?:of|de|du|del|des|von|vom|di|del|della|dello|do|da|dos|das|ka|ki|ke) "
    r"(?!(?:(?:the|my|el|la|le|l'|il|lo|o|a|mi|mon|ma|mein\w*|den|die|das) ?)?"
    r"(?:order|price|total|amount|purchase|money|cost|refund|pedido|commande|bestellung|"
    r"ordine|encomenda|precio|prix|preis|prezzo|preco|valor|importe|montant|betrag|importo|"
    r"compra|achat|kauf|acquisto|it|that|this|what|lo|eso|ca|cela|das|quello|isso|order ka|"
    r"que|ce qui|ce que|was|quello che|jo|rest|resto|reste|remaining|remainder|restbetrag|"
    r"restante|baaki|baki)"
    r"\b)[a-z]"
)
"""A percentage of one named part or of something else ("50% of the left earbud")."""

PARTIAL_RE: Final = re.compile(
    r"\b(?:partial|parcial|partiel\w*|parziale|teil\w*|part of|some of|a bit of|a little|"
    r"thoda|thode|less than|except|apart from|but for|sauf|ausser|menos|tranne|salvo|"
    r"(?:only|just) (?:one|the|a|for)|that one|solo (?:uno|una|el|la)|seulement|nur (?:ein|den|"
    r"die|das)|apenas|parte del?|parte do|une partie)\b"
)
"""Words saying the request is for a part, not the whole."""

NOT_FULL_RE: Final = re.compile(
    r"\b(?:not|no|pas|nicht|nao|non|don't need|do not need|less than)"
    r"(?: (?:the|el|la|le|den|o|il|a|de la|du))? (?:full|whole|entire|everything|total|"
    r"totalite|todo|tout|tudo|tutto|alles|valor todo|vollen?|ganzen?)\b|"
    r"\b(?:poora|pura|pure|poore) (?:\w+ )?nahi\b"
)
"""The whole, negated ("not the full amount", "poora nahi")."""

# "everything else is fine", "todo bien con lo demás", "alles andere ist gut": the other
# items, not the whole of the money (blanked before FULL_RE is read).
FULL_ELSE_RE: Final = re.compile(
    r"\b(?:everything|all|todo|tout|alles|tutto|tudo|sab|le reste|il resto|o resto|el resto) "
    r"(?:else|the others?|the other \w+|andere\w*|lo demas|le reste|il resto|o resto|o mais|"
    r"baaki|baki|autre|altro)\b|"
    r"\b(?:todo|tout|alles|tutto|tudo|sab) (?:bien|bon|gut|bene|bem|theek|ok) (?:con|avec|mit|"
    r"com|with) (?:lo demas|le reste|dem rest|il resto|o resto|the rest)\b|"
    r"\bsab (?:kuch )?(?:theek|thik|sahi|badhiya|ok|mil gaya)\b"
)


__all__ = [
    "BOUND_RE",
    "EXPLICIT_FULL_RE",
    "FULL_ELSE_RE",
    "FULL_OF_A_PART_RE",
    "HUNDRED_PERCENT_REFUND_RE",
    "NOT_FULL_RE",
    "ONE_THING_RE",
    "PERCENT_OF_A_PART_RE",
    "PARTIAL_RE",
]
