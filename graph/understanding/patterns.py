r"""Every pattern the rules match, compiled once, run on :func:`~.text.prepare`'d text.

Linear-time by construction: the text they see has no whitespace runs (one space or
newline at most), so a pattern never uses ``\s*``/``\s+`` but an optional single
space; unbounded repeats are never nested nor placed side by side over the same
characters; bounded gaps (``.{0,40}``) are the only way to skip words. Numbers are
not matched here at all: :mod:`~.amounts` replaces each number by :data:`NUM` first,
so amount patterns see one character per number. ``tests/security`` runs a ReDoS
analyser over every pattern in the project and feeds each one adversarial messages
of the maximum length.
"""

from __future__ import annotations

import re
from typing import Final

from graph.understanding import languages as L
from graph.understanding.topics import (
    ARRIVED_RE,
    DESTINATION_RE,
    HYPOTHETICAL_RE,
    IF_I_RE,
    POLICY_COMPOSED_RE,
    POLICY_LIMIT_RE,
    POLICY_RE,
    PROMISED_RE,
    REFUND_ARRIVED_RE,
    STATUS_QUESTION_RE,
    UNSUPPORTED_RE,
)

__all__ = [  # the topic patterns live in .topics, read through this module too
    "ARRIVED_RE",
    "DESTINATION_RE",
    "HYPOTHETICAL_RE",
    "IF_I_RE",
    "POLICY_COMPOSED_RE",
    "POLICY_LIMIT_RE",
    "POLICY_RE",
    "PROMISED_RE",
    "REFUND_ARRIVED_RE",
    "STATUS_QUESTION_RE",
    "UNSUPPORTED_RE",
]

NUM: Final = "\u00a7"
"""Stands for one number in the text amount patterns see (see :mod:`~.amounts`)."""

EMAIL_RE: Final = re.compile(r"[a-z0-9._%+-]{1,64}@[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){1,4}")
_DOT: Final = r"(?:dot|punto|point|punkt|ponto)"
_AT: Final = r"(?:at|arroba|arobase|chiocciola|klammeraffe)"
# "name dot surname at example dot com" (and each language's words for at and dot).
# Dots may be written as dots too ("tanya.brooks at example.com"); see rules.emails_in.
SPELLED_EMAIL_RE: Final = re.compile(
    rf"\b([a-z0-9_+-]{{1,40}}(?:(?:\.| {_DOT} )[a-z0-9_+-]{{1,40}}){{0,4}}) {_AT} "
    rf"([a-z0-9-]{{1,40}}(?:(?:\.| {_DOT} )[a-z0-9-]{{1,40}}){{1,4}})\b"
)
# "john . doe @ example . com": spaces around the @ and dots of an address.
# ("6 dollars back. j.moreau @ example.org": a full stop and a space end a sentence, so
# a dot in the name has a space before it or none after it.)
SPACED_EMAIL_RE: Final = re.compile(
    r"\b([a-z0-9_+-]{1,64}(?:(?:\.| \. ?)[a-z0-9_+-]{1,64}){0,4}) ?@ ?"
    r"([a-z0-9-]{1,63}(?: ?\. ?[a-z0-9-]{1,63}){1,4})\b"
)
_ORDER_WORD: Final = (
    r"(?:ord(?:er|r)?|orden|pedido|commande|cde|bestellung|bestellnummer|encomenda|ordine)"
)
_ORDER_LABEL: Final = r"(?:id|number|num|no|nr|n|nummer|numero|n°|nº)"
ORDER_RE: Final = re.compile(
    rf"(?<![a-z0-9]){_ORDER_WORD}(?: ?{_ORDER_LABEL}\.?)?(?: de commande| do pedido)?"
    r"(?: (?:is|es|est|c'est|ist|e|era|was|lautet)(?: le| la| el| o| il)?)?(?: ?[-_#:])? ?"
    r"(\d{3,20})(?!\d)"
)
# A bare number given when the agent asked for the order ("22208?", "Last try: 28220").
BARE_NUMBER_RE: Final = re.compile(r"(?<![\w.,-])(\d{4,10})(?![\w.,]\d|\d)")
# A bare number the customer calls their order ("it's 41210", "#41210").
BARE_ORDER_RE: Final = re.compile(r"(?:^|[\s(])#(\d{3,10})(?!\d)")
WALLET_RE: Final = re.compile(r"0x[0-9a-f]{6,}")
BASE64_RE: Final = re.compile(r"[A-Za-z0-9+/]{24,}={0,2}")
# Letters spelled out one by one ("i g n o r e", "r.u.l.e.s") are read joined up too.
SPACED_RE: Final = re.compile(r"\b(?:\w[ .*_-]){3,}\w\b")

UNIT: Final = r"(?:usdc|usd|dollars?|dolares|dolar|dollari|dollaro|euros?|bucks|\$|eur)"
WANT: Final = (
    r"i want|i'd like|i would like|i need|give me|send me|je veux|je voudrais|j'aimerais|"
    r"quiero|quisiera|necesito|ich will|ich mochte|ich hatte gern|ich brauche|quero|queria|"
    r"gostaria de|preciso de|voglio|vorrei|mujhe"
)
# A number tied to the asking ("refund 20", "20 USDC back"); counts are not amounts.
ASK_WORDS: Final = L.all_words(L.REFUND_WORDS)
# ("I read your refund FAQ": a page, not a request.)
_ASK: Final = rf"(?:{ASK_WORDS})\w*(?! (?:faq|policy|policies|page|rules|terms|section)\b)"
ASKED_AMOUNT_PATTERNS: Final = (
    # An answer to "how much?" that starts with the amount: "13.50 for the three tins".
    re.compile(rf"^\W{{0,3}}({NUM}) ?{UNIT}? (?:for|por|pour|fur|per|pelo|pela|ke liye)\b"),
    # "20 of the 45", "20 of the price": a share of money ("2 of the bowls" counts bowls).
    re.compile(
        rf"({NUM}) ?{UNIT}? (?:of|out of|de|sur|von|di|dos|das) "
        r"(?:the|my|los|las|les|mes|meinen|den|der|i|os|as) "
        rf"(?:{UNIT} ?)?(?:{NUM}|price|total|amount|cost|order|purchase|precio|importe|total|"
        r"prix|montant|preis|betrag|gesamtbetrag|preco|valor|prezzo|importo|totale)"
    ),
    re.compile(
        rf"\b{_ASK} (?:me |moi |mir |mi )?"
        r"(?:(?:of|for|just|only|about|de|solo|seulement|nur|apenas|von|uber|di) )?"
        rf"(?:(?:usdc|usd) ?|\$ ?)?({NUM})"
    ),
    # "I'd take 10", "me conformo con 10": the amount the customer would accept.
    re.compile(
        r"\b(?:(?:i'd|i would|i'll|i will|i can|i could) (?:take|accept|settle for|"
        r"be happy with|live with)|me conformo con|me contento com|mi accontento di|"
        rf"je me contenterais de) (?:\$ ?)?({NUM})"
    ),
    re.compile(
        rf"({NUM}) ?{UNIT}? (?:zu |de )?(?:erstatt|ruckerstatt|zuruckerstatt|rembours|reembols|"
        r"rimbors|estorn)\w{0,6}\b"
    ),
    re.compile(
        rf"({NUM}) ?{UNIT}? "
        r"(?:back|more|zuruck\w{0,12}|de vuelta|de volta|indietro|wapas|vapas)\b"
    ),
    # "20 USDC refunded" (but "I want 2 refunded" may count things: a unit is needed).
    re.compile(rf"({NUM}) ?{UNIT} (?:refunded|returned|reimbursed)\b"),
)
# "je veux 15 dollars", "vorrei 20 USDC", "I want $15": wanting money (a unit is needed:
# "I want 2 new mugs" counts mugs). It makes a request for a refund, but never a final
# amount: "give me 5 dollars", "I need 20 bucks for my rent", "vorrei 20 euro di sconto"
# want money without saying it is this order's refund, so the amount is stated back.
_NOT_REFUND_MONEY: Final = (
    r"(?! ?(?:\w+ ){0,3}(?:store credit|credit|credito|credits|gutschein|voucher|coupon|"
    r"discount|descuento|desconto|sconto|reduction|remise|rabatt|nachlass|off|invoice|"
    r"factura|facture|rechnung|fattura|fatura|tip|loan|prestamo|emprunt)\b)"
)
WANTED_AMOUNT_PATTERNS: Final = (
    re.compile(rf"\b(?:{WANT}) (?:(?:usdc|usd) ?|\$ ?)?({NUM}) ?{UNIT}{_NOT_REFUND_MONEY}"),
    re.compile(rf"\b(?:{WANT}) \$ ?({NUM}){_NOT_REFUND_MONEY}"),
)
# A number marked as money ("$12.50", "20 USDC").
MONEY_PATTERNS: Final = (
    re.compile(rf"(?:\$|\busdc|\busd|\beur) ?({NUM})"),
    re.compile(rf"({NUM}) ?{UNIT}(?![a-z])"),
)
_ITEMS: Final = (
    r"(?:items?|pieces?|units?|pairs?|orders?|products?|things?|mugs?|cups?|shirts?|"
    r"t-shirts?|boxes|box|bottles?|books?|plates?|glasses|shoes|socks|packs?|bags?|"
    r"candles?|of them|x|articulos?|piezas?|unidades|pares|tazas?|articles?|pieces|tasses?|"
    r"stuck|stucke|teile|tassen?|itens|pecas|canecas?|articoli|pezzi|tazze|tacas|copos|"
    r"pratos|xicaras|garrafas|caixas|tins|cans|jars|missing (?:tins|items|pieces)|"
    r"assiettes?|verres|bols?|platos?|vasos|copas|teller|glaser|schusseln|piatti|bicchieri|"
    r"ciotole|tigelas|bowls?)"
)
# "3 days ago", "within 2 weeks": a time, neither money nor a count of what to refund.
TIME_SPAN_RE: Final = re.compile(
    rf"({NUM}) ?(?:days?|weeks?|months?|years?|hours?|minutes?|mins?|secs?|seconds?|hrs?|"
    r"dias|jours|tage|tagen|giorni|minuten|stunden?|minutos|minuti|"
    r"semanas|semaines|wochen|settimane|meses|mois|monate|mesi|horas|heures|stunden|ore|"
    r"din|hafte|hafta|mahine|mahina|ghante|ghanta|saal)\b"
)
# "2 of the 3 mugs", "2 mugs", "3 days ago": a count, never money.
_GLUE: Final = (
    r"(?:for|of|the|a|an|on|to|in|at|from|with|and|or|por|pour|pelo|pela|para|de|la|el|"
    r"los|las|les|le|die|der|das|den|fur|per|il|i|o|os|as|usdc|usd|dollars?|euros?|bucks|"
    r"dolares|dolar|dollari|dollaro)"
)
# "2 mugs", "2 broken mugs", "3 missing tins": a count of things, never money.
COUNT_AFTER_RE: Final = re.compile(rf"({NUM}) (?:(?!{_GLUE}\b)[a-z]{{1,20}} ){{0,2}}{_ITEMS}\b")
# Words after a number that say it is not a count of things ("20 of the 45 please").
_NOT_A_THING: Final = (
    r"back|zuruck|de vuelta|de volta|wapas|vapas|indietro|refund\w*|rembours\w*|erstatt\w*|"
    r"reembols\w*|rimbors\w*|paid|pay\w*|pagu\w*|bezahlt|paye|pagato|total|in all|please|pls|"
    r"plz|thanks|thank|thx|ok|okay|for|to|on|in|from|is|was|were|are|and|or|but|so|if|as|at|by|"
    r"with|i|you|that|which|que|qui|ich|che|je|por|para|pour|fur|per|bitte|favor|favore|grazie|"
    r"gracias|merci|danke|obrigad\w*|s'il|svp|ka|ke|ki|se|me|ko|hai|do|de|du|des|le|la|el|il|"
    r"lo|o|a|und|oder|et|ou|y|e|ma|mais|pero|aber|mas|en|di|da|dollars?|usd|usdc"
)
# "2 of the 3 mugs", "2 von den 3 Tassen", "3 mein se 2 glass": two counts of things
# (not "10 of the 40 back", "20 of the 45 USDC": a share of money).
# "2 plates out of 8", "2 assiettes sur 8": the total counted too.
COUNT_TOTAL_RE: Final = re.compile(
    rf"{_ITEMS} (?:sur|out of|of|von|de|di|su) (?:the |my |les |mes |los |las )?({NUM})"
    rf"(?! ?{UNIT})"
)
COUNT_OF_RE: Final = re.compile(
    rf"({NUM}) (?:of|out of|de|des|sur|von|di|dei|delle|degli|dos|das|mein se|me se|main se) "
    r"(?:the |my |these |those |los |las |mis |les |mes |ces |den |der |die |meinen |meiner |"
    rf"il |i |gli |le |miei |mie |os |as |meus |minhas )?({NUM}) "
    rf"(?!(?:{UNIT}|{_NOT_A_THING})\b)[a-z]{{2}}"
)
# "2 of the bowls", "3 de las copas", "2 der Teller": a count of things named after it
# (not "20 of the 45" or "20 of the price", a share of money).
COUNT_OF_THINGS_RE: Final = re.compile(
    rf"({NUM}) (?:of|out of|de|des|sur|von|di|dos|das|dei|delle|degli) "
    r"(?:the|my|these|those|los|las|mis|les|mes|ces|die|der|meiner|den|os|as|meus|minhas|"
    r"i|le|gli|miei|mie) "
    rf"(?!(?:{UNIT}|price|total|amount|cost|order|purchase|precio|importe|pedido|prix|montant|"
    r"commande|preis|betrag|bestellung|preco|valor|pedido|prezzo|importo|ordine)\b)[a-z]{3}"
)
PERCENT_RE: Final = re.compile(
    rf"({NUM}) ?(?:%|percent|per cent|por ciento|pour cent|pourcent|prozent|per cento|por cento)"
)
TIMES_RE: Final = re.compile(
    rf"({NUM}) ?(?:times|x|mal|veces|fois|volte|vezes|\*) ?(?:{UNIT} ?)?({NUM})"
)
PLUS_RE: Final = re.compile(
    rf"({NUM})[^.?!{NUM}]{{0,25}}(?:\+|\bplus|\band another|\band also|\band an extra|"
    r"\bmas otros|\by otros|\bet encore|\bund noch|\be mais|\be altri|\baur) "
    rf"(?:the |another |los |les |die |os |i )?(?:{UNIT} ?)?({NUM})"
)
# "20 minus the 5 shipping", "20 less 5": a difference, stated back for a yes.
MINUS_RE: Final = re.compile(
    rf"({NUM}) ?{UNIT}? (?:minus|less|menos|moins|weniger|abzuglich|meno|tirando) "
    rf"(?:the |los |las |les |die |den |i |os |as |o |a |le |la |el )?(?:{UNIT} ?)?({NUM})"
)
# "12 each", "5 USDC per item": a price per piece, to multiply by a count.
EACH_RE: Final = re.compile(
    rf"({NUM}) ?{UNIT}? (?:each|apiece|a piece|per (?:item|piece|unit|one|mug|cup)|"
    r"cada uno|cada una|chacun|chacune|pro stuck|je stuck|cada|ciascuno|l'uno|har ek|"
    r"ek ka)\b"
)
# A repetition or a rate beside an amount ("10 back on each of the 2 mugs", "10 USDC
# twice", "3 per day late"): the amount asked for is a product, so no single number
# in the message is final; it is stated back for a yes.
# An amount with a cost of unknown size added or taken off ("20 plus shipping", "20 minus
# the restocking fee", "20 + IVA"): the sum is not the number written; stated back.
EXTRA_COST_RE: Final = re.compile(
    r"(?:\+|\b(?:plus|and|minus|less|mas|menos|moins|mais|piu|meno|zuzuglich|abzuglich|und)\b)"
    r" (?:the |a |any |el |la |los |les |le |der |die |den |o |il |i )?(?:shipping|delivery|"
    r"postage|tax|taxes|vat|fees?|restocking|handling|envio|gastos|iva|frais|livraison|port|"
    r"versand|versandkosten|porto|mwst|gebuhr|spedizione|frete|taxa|imposto|tasse)\b"
)
# Paid out some other way than money back to the wallet ("as store credit", "a voucher").
OTHER_PAYOUT_RE: Final = re.compile(
    r"\b(?:store credit|as (?:a )?credit|voucher|gift ?card|coupon|gutschein|bon d'achat|"
    r"vale (?:de compra|regalo|presente)|cupon|buono (?:regalo|acquisto|sconto)|"
    r"credito (?:na|en|in) (?:loja|tienda|negozio))\b"
)
MULTIPLIER_RE: Final = re.compile(
    r"\b(?:each|apiece|per (?:item|piece|unit|one|mug|cup|day|week|month|person|article|thing)|"
    r"twice|thrice|every|daily|a day|a week|"
    r"cada|chacun|chacune|par (?:article|piece|unite|jour|semaine)|pro (?:stuck|tag|teil)|"
    r"je (?:stuck|teil|tag)|jeweils|"
    r"ciascuno|ciascuna|ognuno|ogni|a testa|al giorno|por dia|al dia|deux fois|dos veces|"
    r"zweimal|due volte|duas vezes|do baar|har)\b"
)
# "half of 20", "50% of 30", "a third of the 36 USDC": a share of a number written
# there, not of the order (matched right after the share's own match).
OF_NUMBER_RE: Final = re.compile(
    r" (?:of|de|von|di|da|do|sur|del|des|der) "
    r"(?:the |my |los |las |les |mes |die |der |den |i |il |o |a |os |as |el |le |la )?"
    rf"(?:{UNIT} ?)?({NUM})"
)
# "8 dollars and 50 cents": one amount.
CENTS_RE: Final = re.compile(
    rf"({NUM}) ?{UNIT}?,? (?:and |y |et |und |e )?({NUM}) ?"
    r"(?:cents?|centavos?|centimes?|centesimi|cent|ct)\b"
)
# "quinze e noventa", "doce con cincuenta", "diciannove virgola novanta": a price said
# aloud, its cents after "and"/"comma" (read only when both numbers are words).
SPOKEN_CENTS_RE: Final = re.compile(
    rf"({NUM}) (?:{UNIT} )?(?:e|y|con|virgola|virgula|virgule|komma|point|punto|"
    rf"ponto) ({NUM})(?! ?(?:cents?|centavos?|centimes?|centesimi|cent|ct)\b)"
)
# "twelve dollars fifty", "12 dollars 50 back": one amount, its cents named last.
DOLLARS_CENTS_RE: Final = re.compile(
    rf"({NUM}) (?:dollars?|dolares|dolar|dollari|bucks|usd|usdc) (?:and |und )?({NUM})"
    r"(?= ?(?:back|please|pls|refund\w*|zuruck|erstattet|bitte|retour|de volta|de vuelta|"
    r"indietro|wapas|vapas|[?!.]|$))"
)
# "twelve fifty": a price said aloud, its cents a second number in words right after the
# first (both words; stated back for a yes). "two twenty dollar items": a count and a price.
SPOKEN_PRICE_RE: Final = re.compile(
    rf"({NUM}) ({NUM})(?= ?(?:back|refund\w*|please|pls|dollars|bucks|usd|usdc|for|on|of|total|"
    r"de volta|de vuelta|zuruck|indietro|wapas|[?!.,]|$))"
)
# A short reply that leads with its amount, then explains it: "14, ek glass 7 ka hai".
# (The number's own trailing comma is part of it: "14," is marked as one number.)
LEAD_AMOUNT_RE: Final = re.compile(
    rf"^[^\w{NUM}]{{0,3}}({NUM})(?: ?{UNIT})?( ?[,:;-])? (?:[a-z]|{NUM})"
)
# "25, not 30": the first; "not 30 but 25": the second.
NOT_AMOUNT_RE: Final = re.compile(
    rf"({NUM}) ?{UNIT}?,? (?:not|nicht|no|non|nao|pas) (?:the )?(?:{UNIT} ?)?({NUM})"
)
NOT_BUT_RE: Final = re.compile(
    rf"\b(?:not|nicht|no|non|nao|pas) (?:{UNIT} ?)?({NUM}) ?{UNIT}?,? "
    rf"(?:but|sondern|sino|mais|ma|mas) (?:{UNIT} ?)?({NUM})"
)
# "the other two are fine": other items of the order named beside a number.
OTHER_ITEMS_RE: Final = re.compile(
    r"\b(?:the other|the others|los otros|las otras|les autres|die anderen|gli altri|"
    r"le altre|os outros|as outras)\b"
)
# "20 instead of 45", "20 statt 45": the first is asked for, the second ruled out.
INSTEAD_OF_RE: Final = re.compile(
    rf"({NUM}) ?{UNIT}? (?:instead of|rather than|en vez de|en lugar de|au lieu de|statt|"
    r"anstatt|invece di|em vez de|ao inves de) (?:the |los |las |les |die |den |i |os |as |"
    rf"el |la |le |o |a )?(?:{UNIT} ?)?({NUM})"
)
# "all 4 clips", "both 2 mugs", "the 3 plates": a count of things.
COUNT_BEFORE_RE: Final = re.compile(
    rf"\b(?:all|these|those|both|alle|todos los|todas las|tous les|toutes les|tutti i|"
    rf"todos os|todas as|essas|esas|ces|diese) ({NUM}) "
    rf"(?!(?:{UNIT}|back|zuruck|de vuelta|de volta|indietro|wapas|vapas|en retour|please|"
    r"pls|refunded|returned|bitte|por favor|per favore|s'il)\b)[a-z]"
)
# Asking money back for the time being ("25% back", "20 zurück"): a refund request.
BACK_RE: Final = re.compile(
    r"\b(?:back|zuruck\w{0,12}|de vuelta|de volta|indietro|wapas|vapas|en retour)\b"
)
# "20 of the 45", "20 out of my 45 USDC": the second is what was paid.
SHARE_OF_RE: Final = re.compile(
    rf"({NUM}) ?{UNIT}? (?:of|out of|de|sur|von|di|dos|das) "
    rf"(?:the|my|los|las|les|mes|meinen|den|der|i|os|as) (?:{UNIT} ?)?({NUM})"
)
# "I paid 45", "it cost 30": the price, context rather than a request.
PRICE_RE: Final = re.compile(
    r"\b(?:paid|cost|costs|price was|priced at|bought it for|spent|pague|pagado|paye|"
    rf"bezahlt|kostet|kostete|paguei|pagato|costava|costaba) (?:\w+ ){{0,2}}(?:{UNIT} ?)?({NUM})"
)
# "I already got 10 back", "after the 10 you sent": a past amount, not a request.
# Numbers that are never money: a size ("size 10", "talla 38"), a phone number, a time
# of day ("at 9pm", "9:30"). Set aside before amounts are read.
NOT_MONEY_RE: Final = re.compile(
    r"\b(?:size|sz|talla|taille|grosse|tamanho|taglia|model|modelo|modele|modell|modello|"
    rf"version|gen|generation|level|room|apt|floor|page|pagina|seite|rue|street|calle|rua|"
    rf"strasse|series) ({NUM})|"
    rf"({NUM}) ?(?:am|pm|a\.m\.|p\.m\.|uhr|o'clock)(?![a-z])|\bat ({NUM}) ?[:h] ?{NUM}|"
    rf"({NUM}) ?(?:w|watts?|volts?|mah|gb|tb|mb|cm|mm|km|kg|ml|inch|inches|ft|oz|lbs?|pcs|"
    r"stuck|piezas|pezzi|pecas)\b"
)
# A phone number: after "+" or "call/text me (on)", and long (checked in code).
PHONE_RE: Final = re.compile(
    rf"(?:\+ ?|\b(?:call|text|phone|tel|telefono|telephone|whatsapp|mobile|cell|handy|"
    rf"celular|cellulare|portable) (?:\S+ ){{0,3}}\+? ?)({NUM})"
)
# "the rest", said after an amount already received: asking for what is left.
REST_RE: Final = re.compile(
    r"\b(?:the rest|what'?s left|the remainder|el resto|lo que queda|lo que falta|le reste|"
    r"ce qui reste|le restant|den rest|restbetrag|was ubrig ist|il resto|quello che resta|"
    r"il restante|o resto|o restante|o que falta|o que sobrou|baaki|baki|bacha hua|bacha hai|"
    r"jo bacha)\b"
)
# "the rest are fine", "el resto está bien": the other items, not the rest of the money.
REST_FINE_RE: Final = re.compile(
    r"\b(?:the rest|the others|el resto|los demas|las demas|le reste|les autres|der rest|"
    r"die anderen|il resto|gli altri|le altre|o resto|os outros|as outras|baaki|baki) "
    r"(?:are|is|were|was|seem|look|arrived|esta|estan|son|llegaron|sont|est|sind|ist|kamen|"
    r"sono|e|estao|esta|sao|chegaram|hai|hain|theek|llego|work|works|worked|sab)(?: \w+)? ?"
    r"(?:fine|ok|okay|good|intact|perfect|bien|buenos|buenas|intactos|intactas|perfectos|"
    r"parfaits|intacts|gut|heil|in ordnung|bene|intatti|intatte|perfetti|bons|boas|inteiros|"
    r"perfeitos|theek|sahi|hai)\b|"
    # "forget about the rest", "el resto me lo quedo", "the rest of the items work".
    r"\b(?:forget (?:about )?the rest|(?:el resto|le reste|o resto|il resto|der rest|den rest) "
    r"(?:me lo quedo|je le garde|fico com|lo tengo|behalte ich|brauche ich nicht)|"
    r"the rest of (?:the |my )?\w+ (?:work|works|are fine|is fine)|(?:keep|keeping) the rest|"
    r"the rest (?:i'll|i will|i) keep|the rest can stay|the rest (?:isn't|is not|not) needed|"
    r"el resto no hace falta|o resto nao (?:precisa|e preciso)|"
    r"le reste n'est pas (?:necessaire|la peine)|(?:not|nicht|pas|non|nao) (?:the rest|"
    r"el resto|le reste|den rest|il resto|o resto))"
)
HALF_RE: Final = re.compile(rf"\b(?:{L.all_words(L.HALF_WORDS)})\b")
# What follows "half" when it counts things, not money: "half the LEDs", "la mitad de
# las galletas", "die Halfte der Seiten" (matched at the end of HALF_RE's match).
_MONEY_NOUNS: Final = (
    r"(?:price|cost|amount|money|total|refund|order|purchase|what|it|precio|importe|dinero|"
    r"pedido|compra|lo que|prix|montant|argent|commande|achat|ce que|preis|betrag|geld|"
    r"bestellung|kaufpreis|was|preco|valor|dinheiro|compra|o que|prezzo|importo|soldi|"
    r"ordine|acquisto|quello|paise|paisa|amount)\b"
)
HALF_OF_ITEMS_RE: Final = re.compile(
    r" (?:of |de |der |des |di |do |da |dos |das |dei |delle |degli |della |del )?"
    r"(?:the |my |these |those |los |las |mis |les |mes |ces |die |meiner |meine |os |as |"
    r"meus |minhas |i |le |gli |miei |mie )"
    rf"(?!{_MONEY_NOUNS})[a-z]"
)
TWO_THIRDS_RE: Final = re.compile(
    r"\b(?:two|2) (?:thirds|3rds)\b|\bdos tercios\b|\bdeux tiers\b|\bzwei drittel\b|"
    r"\bdois tercos\b|\bdue terzi\b"
)
THIRD_RE: Final = re.compile(
    r"\b(?:a|one) (?:third|3rd)\b|\bun tercio\b|\bun tiers\b|\bein drittel\b|"
    r"\bum terco\b|\bun terzo\b"
)
QUARTER_RE: Final = re.compile(
    r"\b(?:a|one) (?:quarter|4th)\b|\bun cuarto\b|\bun quart\b|\bein viertel\b|"
    r"\bum quarto\b|\bun quarto\b|\b(?:una|la) cuarta parte\b|\b(?:uma|a) quarta parte\b|"
    r"\b(?:la )?quarta parte\b|\ble quart\b|\bein viertel\b|\bdas viertel\b"
)
VAGUE_RE: Final = re.compile(
    r"\b(?:partial(?:ly)?|part of (?:it|the|my)|a portion|some of (?:it|the|my)|"
    r"a bit|a little|something back|parcial|partiel|teilweise|parziale)\b"
)
# Part of a set or pack: a refund for "the mug from my set" is not the whole order.
PART_OF_SET_RE: Final = re.compile(
    r"\b(?:(?:set|pack|bundle|kit|box|lot|juego|paquete|lote|ensemble|lot|paquet|coffret|"
    r"packung|satz|pacote|kit|confezione|set) (?:of|de|von|di|da)|"
    r"(?:from|in|of) (?:my|the|this) (?:set|pack|bundle|kit|box)|"
    r"(?:one|some|a few|part|only one|just one) of (?:the|my|them|these|those))\b|"
    # "my money back for the lid": a thing named, maybe one part of the order.
    r"\b(?:for|por|pour|fur|per|pelo|pela|para) (?:the|that|this|those|these|el|la|los|las|"
    r"le|les|ce|cette|ces|den|die|das|o|a|os|as|il|lo|i|gli) "
    r"(?!(?:order|purchase|whole|entire|full|pedido|compra|commande|achat|bestellung|ordine|"
    r"acquisto|encomenda)\b)[a-z]"
)
FULL_RE: Final = re.compile(rf"\b(?:{L.all_words(L.FULL_WORDS)})\b")
WHOLE_MONEY_RE: Final = re.compile(rf"\b(?:{L.all_words(L.WHOLE_MONEY_WORDS)})\b")
OTHER_HALF_RE: Final = re.compile(rf"\b(?:{L.all_words(L.OTHER_HALF_WORDS)})\b")
KEEP_RE: Final = re.compile(rf"\b(?:{L.all_words(L.KEEP_WORDS)})\b")
ACK_RE: Final = re.compile(rf"(?:^|\W)(?:{L.all_words(L.ACK_WORDS)})(?:\W|$)")
REFUND_RE: Final = re.compile(
    rf"\b(?:{_ASK}|(?:get|have|want|need) (?:\S+ ){{0,4}}back|"
    r"(?:quero|queria|quiero|queria|voglio|vorrei|veux|voudrais|will|mochte|chahiye) "
    r"(?:\S+ ){0,4}(?:de volta|de vuelta|indietro|zuruck|wapas)"
    r"(?! ?(?:schick|send|senden|mand|envi|spedi|bhej|geben|bring|retourn))|"
    r"approve\w* (?:the |a |my )?refund|approve_refund|"
    r"it never (?:arrived|came)|never (?:arrived|received it|got it)|send (?:the|my) money back)\b"
)
CORRECTION_RE: Final = re.compile(rf"(?:^|\W)(?:{L.all_words(L.CORRECTION_WORDS)})(?:\W|$)")
NOT_A_REQUEST_RE: Final = re.compile(
    r"\b(?:don't|do not|dont|no|not|never|without|instead of|rather than|no longer|"
    r"no quiero|ne veux pas|kein|keine|nicht|nao quero|nao|non voglio|non)\b"
    # ("I don't really know how refunds work": not knowing is not refusing.)
    # ("I never saw my refund", "don't see the refund": asking after one, not refusing.)
    r"(?!(?: really| quite| exactly| actually| even| yet)? (?:know|understand|sure|get how|"
    r"see how|think|saw|seen|"
    r"see)\b)(?<!\bnever(?= (?:got|gotten|received|get)\b))"
    r"[\w ']{0,25}\b(?:refund|reembols|rembours|erstatt|rimbors)|"
    # "refunding the rest won't be necessary", "you can skip refunding the rest".
    r"\b(?:refund|reembols|rembours|erstatt|rimbors)\w*[\w ']{0,25}\b(?:won't be|will not be|"
    r"isn't|is not|not|no longer)(?: really)? (?:necessary|needed|required)\b|"
    r"\bskip (?:\w+ )?(?:refund|reembols|rembours|erstatt|rimbors)|"
    # "I don't want 20 back", "no quiero el dinero de vuelta": the money refused.
    r"\b(?:don't|do not|dont|no longer) (?:want|need)\b[\w ']{0,25}\b(?:back|money)\b|"
    r"\brefund (?:nahi|nhi|mat)\b|"
    r"\b(?:no quiero|ne veux pas|ne veux plus|will kein|mochte kein|brauche kein|nao quero|"
    r"non voglio)\b[\w ']{0,25}\b(?:de vuelta|dinero|argent|zuruck|geld|de volta|dinheiro|"
    r"indietro|soldi)\b|"
    r"\b(?:want|like|prefer|rather|need|send me|get|quiero|prefiero|prefiere|veux|voudrais|"
    r"prefere|mochte|will|lieber|quero|prefiro|vorrei|preferisco|preferirei) (?:\S+ ){0,3}"
    r"(?:replacement|exchange|swap|reemplazo|cambio|remplacement|echange|ersatz|umtausch|troca|"
    r"sostituzione)\b"
)
STATUS_RE: Final = re.compile(r"\b(?:status|any update|ticket)\b")
# Asking for a person in so many words: a person looks, whatever else the message asks.
HUMAN_STRONG_RE: Final = re.compile(
    r"\b(?:talk|speak|chat) (?:to|with) (?:a |an |your |the |some )?(?:real )?(?:human|person|"
    r"someone|somebody|manager|supervisor|agent|representative|people)\b|"
    r"\breal (?:human|person)\b|\bhuman,? please\b|\bescalate (?:this|it|me)\b|"
    r"\bhablar con (?:una persona|un humano|alguien|un agente|el encargado|un supervisor)\b|"
    r"\bparler (?:a|avec) (?:un humain|une personne|quelqu'un|un conseiller|un responsable)\b|"
    r"\b(?:mit )?(?:einem menschen|einem mitarbeiter|jemandem|einem echten menschen) "
    r"(?:sprechen|reden)\b|"
    r"\bfalar com (?:uma pessoa|um humano|alguem|um atendente|o gerente)\b|"
    r"\bparlare con (?:una persona|un operatore|qualcuno|un umano|un responsabile)\b|"
    r"\b(?:insaan|kisi|manager|kisi insaan) se baat\b"
)
HUMAN_RE: Final = re.compile(rf"\b(?:{L.all_words(L.HUMAN_WORDS)})\b")
# ("y" or "k" alone, nothing else: a terse yes; "y el pedido..." is Spanish "and".)
# ("bet" and "say less" are a yes only on their own: "bet you'll mess it up" is not.)
YES_RE: Final = re.compile(
    rf"^\W{{0,3}}(?:(?:{L.all_words(L.YES_WORDS)})(?:\W|$)|[yk]\W{{0,3}}$|"
    r"(?:bet|say less)(?:\W+(?:yes|yeah|yep|ok|okay|go ahead|do it))?\W{0,3}$)"
)
NO_RE: Final = re.compile(rf"^\W{{0,3}}(?:{L.all_words(L.NO_WORDS)})(?:\W|$)")
HEDGE_RE: Final = re.compile(
    r"\b(?:no|not|don't|do not|never|cancel|stop|wait|hold on|instead|nein|non|nao|nahi|"
    r"espera|attends|warte|aspetta)\b"
)
CANCEL_RE: Final = re.compile(rf"\b(?:{L.all_words(L.CANCEL_WORDS)})\b")
GREETING_RE: Final = re.compile(
    r"^(?:hi|hello|hey|thanks?|thank you|good (?:morning|day)|hola|bonjour|salut|hallo|"
    r"guten tag|ola|oi|ciao|buongiorno|namaste|gracias|merci|danke|obrigad[oa]|grazie)\b"
)
_LEAD: Final = (
    r"ok|okay|so|then|well|fine|make it|just|only|let's say|how about|maybe|i'd like|"
    r"i would like|i want|can i get|can i have|give me|let's do|yes|sure|no|solo|nur|"
    r"seulement|apenas|solamente|soltanto|sirf|bas|mejor|plutot|lieber|dann|alors|entonces|"
    r"nahi|nein|non|nao|nee|nope|nah|"
    r"pues|allora|entao|si|oui|ja|sim|haan"
)
_TAIL: Final = (
    r"please|pls|thanks|thank you|then|ok|is fine|would be great|will do|por favor|"
    r"in total|total|au total|en total|insgesamt|no total|in tutto|in all|altogether|"
    r"s'il vous plait|bitte|per favore|gracias|merci|danke|grazie|obrigad[oa]"
)
# A message that is essentially one amount ("20", "ok, 20 USDC then", "just 15 please").
# A reply that leads with the amount and then says what it is for: "no, just 9 for the
# one glass", "non, 8, seulement le verre" (the start of the message only).
REPLY_LEAD_RE: Final = re.compile(
    rf"^\W{{0,3}}(?:(?:{_LEAD})\W{{1,3}}){{1,4}}(?:{UNIT} ?)?{NUM}(?! ?(?:%|{UNIT}? ?(?:each|x)\b))"
)
SHORT_ANSWER_RE: Final = re.compile(
    rf"^\W{{0,3}}(?:(?:{_LEAD})\W{{1,3}}){{0,4}}(?:{UNIT} ?)?{NUM} ?{UNIT}?"
    rf"(?:\W{{1,3}}(?:{_TAIL})){{0,3}}\W{{0,3}}$"
)
