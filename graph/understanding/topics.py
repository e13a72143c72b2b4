"""Topics other than a refund request: a refund's status, the policy, what the agent cannot do.

Topics are read by what the words do together, not only by whole phrases (phrase lists
held on the phrasings they were written from and missed unseen ones): "my refund" near
"arrived"/"where is"/"not yet", a promise near a refund, "how long" near a refund in a
question, "change" near "address". Each part is a small list per language
(:mod:`~.languages` for the phrase lists); the gaps between parts are bounded, so every
pattern stays linear (see :mod:`~.patterns`).
"""

from __future__ import annotations

import re
from typing import Final

from graph.understanding import languages as L

_GAP: Final = r"(?:\S+ ){0,6}"
# The same within one clause: "haven't received the item, I want my money back" asks.
_CLAUSE_GAP: Final = r"(?:[^\s,;.!?]+ ){0,6}"
_REFUND_NOUN: Final = (
    r"(?:refund|money|payment|reembolso|dinero|devolucion|remboursement|argent|erstattung|"
    r"ruckerstattung|geld|gutschrift|dinheiro|estorno|rimborso|soldi|paise|paisa)"
)
_MY_REFUND: Final = (
    rf"\b(?:my|the|that|this|mi|el|mon|le|ce|meine|die|meu|o|il mio|il|mera|woh) {_REFUND_NOUN}\b"
)
_ARRIVED: Final = (
    r"\b(?:arrived?|arriving|come through|came through|gone through|go through|went through|"
    r"go out|went out|gone out|been sent|sent|show up|showed up|shown up|landed|received|"
    r"see it|seen it|processed|on its way|"
    r"llegado|llego|llega|recibido|recibi|enviado|salido|veo|"
    r"arrive|arrivee|recu|parti|envoye|vois|"
    r"angekommen|ankommen|erhalten|bekommen|raus|unterwegs|sehe|gesendet|"
    r"chegou|chega|recebi|recebido|enviado|saiu|vejo|"
    r"arrivato|arrivata|arriva|ricevuto|partito|inviato|vedo|"
    r"aaya|aayi|mila|mile|pahuncha|gaya|"
    r"procesado|tramitado|traite|effectue|bearbeitet|uberwiesen|processado|elaborato|processato|"
    r"partis|partie|envoyes|envoyees|enviados|enviadas|inviati|inviate|reach|reached|hit|"
    r"land|come in)\b"
)
# Someone acting on a refund, asked about before naming it: "¿ya se procesó mi reembolso?",
# "have you sent my refund?" (read with a question mark, see REFUND_ARRIVED_RE).
_PROCESSED: Final = (
    r"\b(?:did you (?:process|send|issue)|have you (?:processed|sent|issued)|"
    r"se proceso|ya proceso|procesaron|han procesado|ha procesado|ya hicieron|ya enviaron|"
    r"han enviado|avez-vous (?:traite|envoye|effectue)|avez vous (?:traite|envoye|effectue)|"
    r"a ete (?:traite|envoye|effectue)|habt ihr|haben sie|ja processaram|processaram|"
    r"ja fizeram|foi processado|avete (?:elaborato|processato|inviato|fatto)|"
    r"e stato (?:elaborato|processato|inviato))\b"
)
_WHERE: Final = (
    r"\b(?:where is|where's|wheres|where are|any sign of|status of|update on|donde esta|"
    r"donde estan|que paso con|ou est|ou sont|ou en est|wo ist|wo sind|wo bleibt|cade|"
    r"onde esta|onde estao|dov'e|dove e|dove sono|kahan hai|kahan hain|kab aayega)\b"
)
_PROMISED: Final = (
    r"\b(?:promis\w{0,4}|prometi\w{0,4}|promet\w{0,4}|versproch\w{0,4}|promess\w{0,2}|"
    r"was told|were told|been told|told me|promised|you said|you approved|you agreed|"
    r"was approved|was issued|you issued|me dijeron|me prometieron|me aprobaron|"
    r"on m'a promis|on m'a dit|vous m'avez dit|vous m'avez promis|"
    r"wurde mir gesagt|wurde mir versprochen|versprochen|zugesagt|mir zugesagt|"
    r"me disseram|me prometeram|prometeram|mi avete detto|mi avete promesso|promesso|"
    r"you told me|me dijisteis|me habian dicho|on m'avait dit|vous m'aviez dit|"
    r"hattet gesagt|hiess es|falaram que|disseram que|tinham dito|avevate detto|"
    r"mi avevano detto|mi hanno detto|mi e stato detto|avevate promesso|"
    r"bola tha|kaha tha)\b"
)
_NOT_SEEN: Final = (
    r"\b(?:haven't (?:got|gotten|received|seen)|have not (?:got|received|seen)|"
    r"hasn't (?:arrived|come|shown)|has not (?:arrived|come)|didn't (?:get|receive|arrive)|"
    r"did not (?:get|receive|arrive)|don't see|do not see|can't see|cannot see|still no|"
    r"no sign|nothing yet|not yet|no he recibido|todavia no|aun no|no veo|no me ha llegado|"
    r"pas encore|toujours pas|vois rien|ne vois pas|ne le vois pas|pas recu|noch nicht|"
    r"noch kein|sehe nichts|sehe kein|nicht erhalten|ainda nao|nao vejo|nao recebi|"
    r"non ancora|non vedo|non ho ricevuto|ancora nessun|abhi tak nahi|nahi aaya|nahi mila|"
    r"nahi dikha)\b"
)
# An amount in so many words: "the 20 dollars", "$12.50", "los 15 dolares", "20 back".
_SOME_MONEY: Final = (
    r"(?:the |my |those |that |los |las |les |die |den |i |os |as |il )?"
    r"(?:\$ ?\d[\d.,]*|\d[\d.,]* ?(?:usdc|usd|dollars?|bucks|\$|dolares|dolar|dollari|euros?)\b|"
    r"\d[\d.,]* (?:back|de vuelta|de volta|zuruck|indietro|wapas)\b)"
)
# "so was the 12 refunded or not": asked after, with or without a question mark.
_WAS_REFUNDED: Final = (
    r"\b(?:was|were|has|have|is|got) (?:the |my |that )?(?:\$ ?)?\d[\d.,]* ?(?:usdc|usd|dollars?|"
    r"bucks)? ?(?:been |actually |already )?(?:refunded|returned|sent|paid back)\b"
)
# "has the refund of 10 been processed", "ist die Erstattung über 10 schon durchgelaufen",
# "o reembolso de 10 já foi processado": the refund's fate, asked with or without a "?".
_REFUND_PROCESSED: Final = (
    r"\b(?:refund|erstattung|ruckerstattung|reembolso|remboursement|rimborso)\b[^.!?]{0,30}"
    r"\b(?:been processed|gone through|schon durch\w*|ja foi processado|ja foi feito|"
    r"ya fue procesado|ya se proceso|a ete traite|a ete effectue|e stato elaborato|"
    r"e stato fatto|process ho gaya|ho gaya kya)"
)
_STATUS_COMPOSED: Final = (
    rf"{_WAS_REFUNDED}|{_REFUND_PROCESSED}|"
    rf"{_WHERE} {_GAP}{_REFUND_NOUN}\b|{_WHERE} (?:the |my |los |les |die |i |os )?(?:\$ ?)?"
    r"\d[\d.,]*(?= ?(?:usdc|usd|dollars?|bucks|dolares|dolar|dollari|euros?|you|u|that|which|"
    r"i|que|che|die|wapas|\?|[.,!]|$))|"
    rf"{_NOT_SEEN} {_CLAUSE_GAP}{_MY_REFUND}|"
    rf"{_MY_REFUND}\?{{0,3}} {_GAP}{_NOT_SEEN}|{_NOT_SEEN} {_SOME_MONEY}"
)
STATUS_QUESTION_RE: Final = re.compile(rf"(?:{L.all_words(L.STATUS_WORDS)})|{_STATUS_COMPOSED}")
# "the refund arrived?" / "has my refund gone through?": a status question with a "?"
# ("the refund landed this morning, thanks" is a thank-you).
# "has the 12.50 been sent yet?", "did the 20 dollars arrive?": an amount asked after.
# "did I get the 15 back?", "did you send the 15?": asking after an amount, not for one.
_DID_GET: Final = (
    r"\b(?:did|have|has) (?:i|you|u|we|they) (?:already |actually |ever |really )?"
    r"(?:get|got|gotten|receive|received|send|sent|refund|refunded|pay|paid|issue|issued|"
    r"return|returned|process|processed|transfer|transferred) "
    r"(?:me |me the |the |my |those |that )?(?:\$ ?)?\d"
)
# "¿me devolvieron ya los 20?", "habt ihr mir die 15 schon zurückerstattet?": a refund
# made, asked about (read with a question mark).
_DID_REFUND: Final = (
    r"\b(?:have you refunded|did you refund|"
    r"you (?:already |actually )?refunded(?! him| her| them| my )|"
    r"me devolvieron|me devolvisteis|"
    r"me reembolsaron|me reembolsasteis|m'avez (?:deja )?rembourse|avez-vous (?:deja )?rembourse|"
    r"(?:habt|haben) (?:ihr |sie )?(?:mir )?(?:\S+ ){0,3}(?:zuruck)?erstattet|"
    r"me devolveram|me reembolsaram|(?:mi )?avete (?:gia )?rimborsato|"
    r"mi hanno (?:gia )?rimborsato)\b(?=[^.!?\n]{0,60}\?)"  # in the question itself
)
# "a refund of 12 processed, is that right?": an amount named done, asked about.
_REFUND_DONE: Final = (
    rf"\b{_REFUND_NOUN} (?:of |de |von |di )?(?:\$ ?)?\d[\d.,]* (?:\S+ ){{0,2}}"
    r"(?:processed|sent|issued|approved|done|completed|gone through|went through|procesado|"
    r"enviado|traite|effectue|envoye|bearbeitet|gesendet|processado|elaborato|inviato|"
    r"ho gaya|hua)\b"
)
# "¿cuándo me llega el reembolso?", "when will my refund come?": asking after one made.
_WHEN_MY_REFUND: Final = (
    r"\b(?:when (?:will|does|is|did|would)|cuando (?:me )?(?:llega|llegara|recibo|recibire|"
    r"vuelve)|quand (?:est-ce que )?(?:arrive|arrivera|vais-je recevoir|vais recevoir)|"
    r"wann (?:kommt|bekomme|erhalte)|quando (?:chega|vou receber|recebo|arriva|arrivera|ricevo|"
    rf"ricevero))\b {_GAP}{_MY_REFUND}"
)
REFUND_ARRIVED_RE: Final = re.compile(
    rf"{_MY_REFUND} {_GAP}{_ARRIVED}|{_PROCESSED} {_GAP}{_MY_REFUND}|{_DID_GET}|{_DID_REFUND}|"
    rf"{_REFUND_DONE}|\b(?:did (?:it|that) happen|has (?:it|that) happened)\b|"
    rf"{_WHEN_MY_REFUND}|"
    r"\b(?:has|have|did|was|were|is|are) (?:the|my|those|that) (?:\$ ?)?\d[\d.,]* "
    rf"{_GAP}{_ARRIVED}|"
    # "les 20 dollars sont-ils partis ?", "os 15 já foram enviados?" (not "the 4 glasses
    # arrived": money or a verb right after the number)
    r"\b(?:the|my|les|die|i|os|los|le|il|as|las) (?:\$ ?)?\d[\d.,]* ?(?:usdc|usd|dollars?|bucks|"
    r"\$|dolares|dolar|dollari|euros?|ja|schon|already|deja|gia|ya|have|has|were|was|foram|"
    rf"sont|sind|sono|se|ont|hanno|han|wurden)\b {_GAP}{_ARRIVED}"
)
# A refund someone promised, asked about in the same message: "I was told 12 would come
# back. Did it go out?" (checked together with a question mark or "nothing yet").
PROMISED_RE: Final = re.compile(
    rf"{_PROMISED} {_GAP}(?:{_REFUND_NOUN}\b|\d|back\b|wapas\b)|"
    rf"\b{_REFUND_NOUN} {_GAP}{_PROMISED}"
)
ARRIVED_RE: Final = re.compile(rf"{_ARRIVED}|{_NOT_SEEN}")
_HOW_LONG: Final = (
    r"\b(?:how long|how many days|how much time|how soon|how quickly|when would|"
    r"policy|window|deadline|time limit|limit|maximum|fees?|rules|eligible|"
    r"cuanto tarda|cuanto tiempo|cuantos dias|plazo|politica|limite|maximo|comision|"
    r"combien de temps|combien de jours|delai|politique|plafond|frais|"
    r"wie lange|wie schnell|wie viele tage|frist|richtlinie|gebuhr|hochstbetrag|"
    r"quanto tempo|quantos dias|prazo|demora|taxa|"
    r"quanti giorni|termine|commissione|"
    r"automatic|automatically|or less|at most|automatique|automatisch|automatico|"
    r"kitne din|kitna time|kab tak|too late|trop tard|demasiado tarde|zu spat|tarde demais|"
    r"troppo tardi|comment ca marche|comment ca fonctionne|comment marchent|como funciona|"
    r"como funcionan|wie funktioniert|wie funktionieren|come funziona|come funzionano)\b"
)
_IF_I: Final = (
    r"\b(?:if i|if a refund|if the refund|if you|if something|if anything|if an item|"
    r"if the item|if a product|if it ever|si pido|si solicito|si un reembolso|si je|"
    r"si on|si le remboursement|wenn ich|falls ich|wenn eine erstattung|se eu|se o reembolso|"
    r"se chiedo|se il rimborso|agar)\b"
)
_REFUND_WORD: Final = rf"(?:{_REFUND_NOUN}|refunds|reembolsos|remboursements|erstattungen|rimborsi)"
# "do I have 30 days to ask?", "can I still get a refund after 30 days?": the window.
_SPAN: Final = (
    r"(?:\d{1,3}|a few|a couple of) (?:days|weeks|months|dias|semanas|meses|jours|semaines|"
    r"mois|tage|tagen|wochen|monaten|giorni|settimane|mesi|din|hafte)\b"
)
_DAYS: Final = (
    rf"\b(?:do i have|have i got|tengo|j'ai|habe ich|tenho|ho) {_SPAN}|"
    r"\b(?:still|todavia|aun|encore|toujours|noch|ainda|ancora) (?:\S+ ){0,6}"
    rf"(?:after|despues de|apres|nach|depois de|dopo) {_SPAN}"
)
POLICY_COMPOSED_RE: Final = re.compile(
    rf"{_HOW_LONG} {_GAP}{_REFUND_WORD}\b|\b{_REFUND_WORD} {_GAP}{_HOW_LONG}|{_IF_I}|"
    rf"{_DAYS} {_GAP}{_REFUND_WORD}\b|\b{_REFUND_WORD} {_GAP}{_DAYS}"
)
IF_I_RE: Final = re.compile(_IF_I)
# A refund imagined rather than asked for ("would you refund 20 if it's only chipped?").
HYPOTHETICAL_RE: Final = re.compile(
    r"\b(?:what if|suppose|supposing|hypothetically|would you (?:\S+ ){0,4}if|"
    r"en caso de|au cas ou|falls|nel caso|caso eu|agar)\b"
)
# How far refunds go: asked about with an amount, still a question about the policy.
_LIMIT: Final = (
    r"\b(?:maximum|max|minimum|limit|limits|at most|or less|or more|automatic|automatically|"
    r"plafond|maximal|maximale|hochstens|hochstbetrag|maximo|maxima|massimo|minimo|limite|"
    r"automatique|automatiquement|automatisch|automatico|automaticamente)\b"
)
POLICY_LIMIT_RE: Final = re.compile(
    rf"{_LIMIT} {_GAP}(?:{_REFUND_NOUN}|refunds|reembolsos|remboursements|erstattungen|"
    rf"rimborsi)\b|\b(?:{_REFUND_NOUN}|refunds|reembolsos|remboursements|erstattungen|"
    rf"rimborsi) {_GAP}{_LIMIT}"
)
POLICY_RE: Final = re.compile(rf"(?:{L.all_words(L.POLICY_WORDS)})")
_CHANGE: Final = (
    r"\b(?:change|fix|update|correct|edit|modify|wrong|typo|cambiar|cambia|corregir|"
    r"equivoque|equivocado|mal|changer|modifier|corriger|trompe|trompee|erreur|andern|"
    r"korrigieren|falsch|falsche|mudar|alterar|corrigir|errado|errei|cambiare|modificare|"
    r"correggere|sbagliato|sbagliata|badal|galat)\b"
)
_ACCOUNT_THING: Final = (
    r"\b(?:address|house number|street|postcode|zip code|zip|email address|password|"
    r"phone number|direccion|domicilio|calle|correo|contrasena|adresse|rue|code postal|"
    r"mot de passe|anschrift|strasse|hausnummer|passwort|endereco|morada|rua|senha|"
    r"indirizzo|via|pata)\b"
)
# Cancelling an order (not a refund): "annulez ma commande", "cancelar a encomenda".
_CANCEL_ORDER: Final = (
    r"\b(?:cancel|cancell?ing|cancelar|cancela|cancele|cancelen|cancelem|annuler|annulez|"
    r"annule|stornieren|storniert|storniere|stornier|annullare|annullate|annulla)\b "
    r"(?:\S+ ){0,2}(?:order|pedido|commande|bestellung|encomenda|ordine)\b"
)
UNSUPPORTED_RE: Final = re.compile(
    rf"(?:{L.all_words(L.UNSUPPORTED_WORDS)})|{_CHANGE} {_GAP}{_ACCOUNT_THING}|"
    rf"{_ACCOUNT_THING} {_GAP}{_CHANGE}|{_CANCEL_ORDER}"
)


# --- where the money would go -----------------------------------------------------------

# A wallet, account or card of someone named after it, in any language ("the wallet of my
# brother", "le portefeuille de ma soeur", "il conto di mio padre", "das Konto von meinem
# Bruder"): not the wallet that paid.
SOMEONE_ELSES_RE: Final = re.compile(
    r"\b(?:wallet|portefeuille|compte|cuenta|billetera|cartera|conto|portafoglio|konto|conta|"
    r"carteira|carte|tarjeta|carta|cartao|karte|account|card)s? (?:de|di|do|da|von|del|della|"
    r"dello|des|du|of|dal) (?:mon|ma|mes|mi|mis|mio|mia|miei|meu|minha|meinem|meiner|meines|"
    r"my|un|una|une|ein|einem|einer|um|uma|a|la|le|el|il|lo|o|der|dem|die|das|the|her|his|"
    r"their|su|sa|son|seu|sua|suo|ihrem|seinem)\b|"
    # Hinglish: "mere husband ke card pe", "bhai ke account mein" (the owner comes first).
    # (Any owner but the customer: "usi ke", "mere apne", "original payment ke" are theirs.)
    r"\b(?!(?:usi|isi|uss|us|iss|is|mere|mera|meri|apne|apna|apni|same|original|payment|"
    r"order|wallet|card|account)\b)[a-z]{2,20} "
    r"(?:ke|ki|ka) (?:card|account|wallet|khate|khata|bank account|upi)"
    r" (?:pe|par|mein|me|main)\b"
)

# A card, a bank, a payment app or an address named in a request: a refund only ever goes
# back to the wallet that paid, so whatever the message asks, the amount is stated back
# (with where it goes) before any money moves. Manipulation signals are read separately
# (see :mod:`~.injection`); this catches what no signal phrase foresaw.
DESTINATION_RE: Final = re.compile(
    r"\b(?:cards?|carte|karte|kreditkarte|tarjeta|carta|cartao|visa|mastercard|amex|iban|"
    r"(?<!power )bank|banque|banco|bankkonto|kontonummer|paypal|venmo|zelle|revolut|"
    r"cash ?app|upi|paytm|gpay|phonepe|pix|bizum|satispay|mb ?way|twint|lydia|"
    r"conto corrente|cuenta bancaria|compte bancaire|conta bancaria|account (?:number|no|"
    r"mein|me)|wallet address|adresse (?:de )?(?:wallet|portefeuille))\b|"
    r"\b0x[0-9a-f]{6,}|\b[a-z0-9-]{1,40}\.eth\b|"
    # Someone's wallet or account: "le wallet de mon petit frere", "la cuenta de mi hermana".
    rf"{SOMEONE_ELSES_RE.pattern}"
)
