r"""The manipulation patterns: each names a way a message tries to steer the agent.

A match is a *signal*, never a decision: it is audited, shown to the reviewer and makes
the agent more careful; it never moves money nor blocks an honest request by itself.
Each entry is ``(signal name, pattern)``; one signal may have several patterns (English
first, then the languages customers most often switch to). The same construction rules
as :mod:`~.patterns` hold (linear-time, on :func:`~.text.prepare`'d and folded text),
and ``tests/security`` runs the ReDoS analyser over every one of them.
"""

from __future__ import annotations

import re
from typing import Final

from graph.understanding.topics import SOMEONE_ELSES_RE

INJECTION_PATTERNS: Final = (
    (
        "override_instructions",
        re.compile(
            r"\b(?:ignore|disregard|forget|override|bypass|set aside|circumvent|get around)\b"
            r".{0,40}\b(?:rules?|instructions?|polic(?:y|ies)|limits?|prompt|guidelines|"
            r"restrictions?|caps?|safeguards?|programming)\b|"
            r"\b(?:new|updated|real|actual|revised) (?:instructions?|rules?|polic(?:y|ies)) ?:|"
            r"\b(?:exceed|raise|lift|increase|remove|waive|skip|disable) (?:the |your |"
            r"any |this |that )?(?:refund |daily |transaction )?(?:caps?|limits?)\b|"
            r"\b(?:limits?|caps?|rules?|polic(?:y|ies)) (?:doe?s?n't|do(?:es)? not) apply\b|"
            r"\b(?:polic(?:y|ies)|limits?|caps?) (?:has been |have been |was |were )?"
            r"(?:updated|changed|raised|lifted|removed)\b|\blimit is now\b|"
            r"\b(?:skip|bypass|ignore|turn off|disable) (?:the |all |any |your |those )?"
            r"(?:checks?|verifications?|reviews?|approvals?|safety checks?)\b",
            re.S,
        ),
    ),
    (
        # The same in the languages customers most often switch to (es, fr, de, it, pt).
        "override_instructions",
        re.compile(
            r"\b(?:ignora\w{0,8}|olvida\w{0,8}|omite|salt[ae]\w{0,8}|ignore[rz]?|oublie[rz]?|"
            r"contourne[rz]?|ignorier\w{0,8}|vergiss|missacht\w{0,8}|umgeh\w{0,8}|"
            r"dimentica\w{0,8}|esqueca\w{0,8}|esquece)\b"
            r".{0,40}\b(?:reglas|instrucciones|politicas?|limites?|normas|regles|"
            r"consignes|instructions|politiques?|regeln|anweisungen|vorgaben|richtlinien|"
            r"grenzen|regole|istruzioni|limiti|regras|instrucoes)\b",
            re.S,
        ),
    ),
    (
        "role_play",
        re.compile(
            r"\b(?:you are now|pretend (?:to be|you)|act as|roleplay|role-play|"
            r"developer mode|dan mode|jailbreak)\b"
        ),
    ),
    (
        "fake_authority",
        re.compile(
            r"\[? ?\b(?:system|admin|developer|root)"
            r"(?: ?(?:message|override|prompt|mode|notice|update|alert|note))? ?\]? ?:|"
            r"\[ ?(?:system|admin|developer|root)(?: (?:message|notice|update|alert|note))? ?\]|"
            r"\bauthori[sz]ed (?:by|override)\b|\bi authori[sz]e\b|\bauthori[sz]ation code\b|"
            r"\bskip_?polic|\bapprove_refund\b|< ?/? ?(?:admin|developer|root|tool) ?>|"
            r"\bpre-? ?approved\b|\balready approved\b|\b(?:approved|authori[sz]ed|cleared) by "
            r"(?:your |the |a |my )?(?:manager|supervisor|admin|team|support|colleague|boss|"
            r"finance|billing|ceo|owner)\b|\b(?:your|a) (?:colleague|manager|supervisor|"
            r"teammate|agent|support team) (?:already )?(?:approved|authori[sz]ed|promised|"
            r"confirmed|said (?:you|i) (?:would|will|can|could))\b|\boverride code\b|"
            r"\b(?:test|debug|maintenance|admin|god|sudo) mode\b|\bsudo\b|"
            r"\bas an? (?:employee|staff member|admin|insider)\b|\bi work (?:for|at) (?:you|"
            r"your (?:company|store|shop)|the (?:company|store|shop))\b|"
            r"\bi(?: am|'m) (?:the|an?|your) (?:\w+ )?(?:admin|administrator|developer|ceo|"
            # ("I'm the account owner" / "the owner of this order": the customer, not the
            # shop; a manager of anything, or the store's owner, is the shop.)
            r"supervisor)\b|\bi(?: am|'m) (?:the|an?|your) (?:(?:\w+ )?manager\b|"
            r"(?:store|shop|company|business|site|website|brand) owner\b|"
            r"owner\b(?! of (?:this|the|my|that) (?:account|order|wallet)))"
            r".{0,40}"
            r"\b(?:approv(?:e|ing)|authori[sz](?:e|ing)|overrid(?:e|ing)|allow|refund|pay|send)|"
            r"\bi(?: am|'m) (?:approving|authori[sz]ing|overriding)\b|"
            r"\b(?:i(?: am|'m)|we(?: are|'re)|this is|as) (?:from |with |on |part of )?"
            r"(?:the |your |an? )?(?:support|customer service|billing|finance|refunds?|payments?) "
            r"(?:team|staff|department|desk|agent|lead|manager)\b|"
            r"\bas (?:your|the) (?:developer|admin|administrator|creator)\b|"
            r"< ?/? ?system ?>|(?m:^ ?(?:assistant|ai|bot) ?:)"
        ),
    ),
    (
        # The same claims of authority in es, fr, de, it, pt and Hinglish (folded text).
        "fake_authority",
        re.compile(
            r"\b(?:mensaje|mensagem|message|messaggio|nachricht|nota|note|notiz) "
            r"(?:del |de |do |di |du |des )?(?:sistema|systeme|system|interna|interne|interno)\b|"
            r"\b(?:systemnachricht|interne notiz|nota interna|note interne|systemhinweis)\b|"
            r"\ben tant qu'(?:administrateur|admin|developpeur|employe|gerant)\b|"
            r"\b(?:como|en tant qu'|en tant que|als|come|in qualita di) (?:el |le |la |der |il |"
            r"o )?(?:administrador|administrateur|administrator|amministratore|admin|"
            r"desarrollador|developpeur|entwickler|sviluppatore|desenvolvedor|gerente|gerant|"
            r"vorgesetzter|empleado|employe|mitarbeiter|dipendente|funcionario)\b|"
            r"\b(?:soy|je suis|ich bin|sono|sou|main) (?:el |le |la |der |die |il |o |a |"
            r"un |une |ein |eine |uno |um )?(?:administrador|administrateur|administrator|"
            r"amministratore|admin|desarrollador|developpeur|entwickler|sviluppatore|"
            r"desenvolvedor|direttore|director|directeur|direktor|diretor|leiter|jefe|capo|"
            r"responsabile|responsable|gerente|gerant|manager)\b|\badmin (?:hoon|hu|hun)\b|"
            # "sou o dono da loja", "soy el dueño de la tienda" (not "of the account").
            r"\b(?:soy|je suis|ich bin|sono|sou|main|eu sou|io sono) (?:el |la |le |der |die |"
            r"il |o |a |un |une |ein |eine |uno |um |uma |l')?(?:dono|dona|dueno|duena|"
            r"propietari[oa]|proprietaire|proprietari[oa]|inhaber\w*|besitzer\w*|titolare|"
            r"patron|patronne) (?:de la |del |da |do |de |du |des |della |dello |dei |der |des |"
            r"de esta |de este |de cette |de ce |dieses |diesem |di questo |di questa |desta |"
            r"deste |della mia |del mio |de mi |de ma |de mon |meines |meiner )?"
            r"(?:tienda|loja|boutique|magasin|shop\w*|laden\w*|geschaft\w*|negozio|empresa|"
            r"entreprise|firma|azienda|site|sitio|sito)\b|"
            r"\b(?:autorizando|autorizzando|autorisiere|j'autorise)\b|"
            r"\b(?:autorizzo|j'autorise|ich autorisiere|ich genehmige|eu autorizo|"
            r"yo autorizo|autorizo (?:el|un|este|o|um|esse)|main authori[sz]e)\b|"
            r"\b(?:senza|sin|sans|ohne|sem) (?:i |los |las |les |la |le |die |os |as |"
            r"alcun \w+ |aucune? |jede \w+ )?(?:controll\w*|verifica\w*|comprobacion\w*|"
            r"verification\w*|prufung\w*|kontroll\w*|"
            r"uberprufung\w*|checks?|revisione?|revision)\b"
            r"(?! (?:de |di |du |der |da )?(?:qualita|calidad|qualite|qualitat|qualidade))|"
            r"\b(?:ya (?:esta |fue |ha sido )?aprobad|deja approuve|bereits genehmigt|"
            r"schon genehmigt|bereits freigegeben|schon freigegeben|gia approvat|ja (?:foi |esta )?"
            r"aprovad|pehle se approve|approve ho chuka)\w*|"
            r"\b(?:colega|collegue|kollege|kollegin|collega|gerente|gerant|chef|manager|"
            r"supervisor|superviseur|vorgesetzte\w*|responsabile|responsable)\b.{0,40}"
            r"\b(?:prometi\w*|aprob\w*|promis|approuve\w*|zugesagt|genehmigt|versprochen|"
            r"gesagt|promesso|approvat\w*|prometeu|aprovou|autoris\w*|autoriz\w*)\b|"
            r"\b(?:entwicklermodus|testmodus|modo desarrollador|mode developpeur|"
            r"modalita sviluppatore|modo desenvolvedor|modo de prueba|mode test)\b|"
            r"\b(?:reglas|regles|regeln|richtlinien|regole|regras|politicas?|politiques?|limites?|"
            r"limiti|grenzen) (?:\w+ )?(?:deaktiviert|desactivad\w*|desactive\w*|disattivat\w*|"
            r"desativad\w*|aufgehoben|ausser kraft)\b|"
            r"\b(?:rules?|instructions?|niyam|policy) (?:ko )?(?:bhool|bhul|ignore) ?"
            r"(?:jao|ja|do|karo|kar do)\b",
            re.S,
        ),
    ),
    (
        "split_refund",
        re.compile(
            r"\b(?:split|divide|break) (?:up )?(?:the |my |this |it |that )?(?:refund|payment|"
            r"transaction|amount)s?\b|\b(?:split|divide|break)(?: it| them)? (?:up )?into\b|"
            r"\ben (?:\d+|deux|trois|quatre|cinq) fois\b|\ben (?:\d+|dos|tres|cuatro) veces\b|"
            r"\b(?:faites|fais|faire)-en \d+\b|\bin (?:\d+|zwei|drei|vier) (?:mal|teilen)\b|"
            r"\bem (?:\d+|duas|tres) vezes\b|\bin (?:\d+|due|tre) volte\b|"
            r"\b\d+ refunds of\b|"
            r"\b(?:in|into|as) (?:several|multiple|many|smaller|separate|\d+) "
            r"(?:(?:smaller|separate) )?(?:refunds|payments|transactions|transfers)\b|"
            r"\banother \$?\d+\b.{0,60}\banother \$?\d+\b",
            re.S,
        ),
    ),
    (
        # Money sent anywhere but back to the original payment: another wallet or account.
        "redirect_payment",
        re.compile(
            r"\b(?:send|transfer|pay|wire)\b.{0,40}\b(?:to (?:this|the following|another|a "
            r"different|my other|my new) (?:wallet|address|account)|to 0x|to wallet)\b|"
            r"\b(?:different|another|new|other) (?:wallet|address|account) (?:instead|please)\b|"
            # "refund it to my sister's wallet", "to my other card", "to my PayPal": anywhere
            # but the wallet that paid ("back to my wallet" is where it goes anyway).
            r"\b(?:send|transfer|pay|wire|refund|return|credit|put|deposit|move)\b.{0,40}?"
            r"\bto (?:my |her |his |their |a |an |the )?(?:(?:other|second|different|new|another|"
            r"[a-z]+'s) (?:wallet|card|account|address|bank)|paypal|venmo|zelle|revolut|"
            r"cash ?app|bank account|iban|credit card|debit card)\b",
            re.S,
        ),
    ),
    (
        # Another wallet or account, in es, fr, de, it, pt and Hinglish.
        "redirect_payment",
        re.compile(
            r"\b(?:otra|otro|nueva|nuevo|autre|nouveau|nouvelle|andere|anderes|anderen|neue|"
            r"neues|altro|altra|nuovo|nuova|outra|outro|nova|novo|dusre|doosre|naye|nayi) "
            r"(?:\w+ )?(?:billetera|cartera|cuenta|portefeuille|compte|wallet|"
            r"konto|portafoglio|conto|carteira|conta|account|khata)\b|"
            r"\b(?:billetera|cartera|cuenta|portefeuille|compte|wallet|konto|portafoglio|conto|"
            r"carteira|conta) (?:nueva|nuevo|diferente|distinta|different|differente|diverso|"
            r"diversa|neue|neues|andere|nouveau|nouvelle|nova|novo)\b",
        ),
    ),
    (
        # "you are now ...", "pretend ...", in es, fr, de, it, pt.
        "role_play",
        re.compile(
            r"\b(?:ahora eres|tu es maintenant|tu es desormais|du bist jetzt|du bist nun|"
            r"ora sei|adesso sei|agora voce e|agora es|finge que|finge ser|fais comme si|"
            r"fais semblant|tu joues le role|tu-joues|stell dir vor,? du bist|tu das so als|"
            r"fingi di|fai finta|finja que|finja ser|modo sin restricciones|sans restrictions|"
            r"ohne einschrankungen|senza restrizioni|sem restricoes|sin restricciones)\b",
        ),
    ),
    (
        # Going past the limit "just this once", in es, fr, de, it, pt.
        "override_instructions",
        re.compile(
            r"\b(?:depasse[rz]?|ignore[rz]?|superar|supera|superare|saltar\w*|exceder|excede|"
            r"uberschreit\w*|ultrapassa\w*|contourne[rz]?|umgeh\w*|aumenta\w*|augmente[rz]?|"
            r"erhoh\w*|leve[rz]? )\b.{0,20}\b(?:el |la |le |les |das |die |den |il |o |a |os |"
            r"as |ton |tu |dein\w* |tuo |seu )?(?:limite|limites|limit|plafond|tope|grenze|"
            r"limiti|teto)\b|"
            r"\b(?:limit|grenze|limite|plafond|tope)\b (?:\w+ ){0,2}(?:uberschreit|erhoh|aufheb|"
            r"ignorier|depasse|ignore|supera|ultrapass|exced)\w*",
            re.S,
        ),
    ),
    (
        # "30 in three payments of 10", in es, fr, de, it, pt.
        "split_refund",
        re.compile(
            r"\b(?:en|in|em) (?:\d+|dos|tres|cuatro|deux|trois|quatre|zwei|drei|vier|due|tre|"
            r"quattro|duas|quatro) (?:pagos|paiements|versements|zahlungen|raten|pagamenti|"
            r"pagamentos|parcelas|reembolsos|remboursements|erstattungen|rimborsi|transacciones|"
            r"transactions|transaktionen|transazioni|transacoes|partes|parties|teile|parti)\b",
        ),
    ),
    (
        # A card, a bank account or someone else's account, in any language: a refund
        # goes back to the wallet that paid and nowhere else.
        "redirect_payment",
        re.compile(
            r"\b(?:visa|mastercard|amex|card) ending\b|\biban\b|"
            r"\b(?:put|refund|send|credit|pay|return|give)\b.{0,30}?\bon (?:my |her |his |the |"
            r"a )?(?:visa|mastercard|amex|credit card|debit card|card|paypal)\b|"
            r"\b(?:don't|do not|no longer) (?:use|have) (?:that|this|the|my) (?:\w+ )?wallet\b|"
            r"\b(?:sul|sulla|al|alla|nel|sur|auf|na|no|en|para|pour|per|an) (?:suo|sua|seu|son|"
            r"sa|ihr\w{0,2}|sein\w{0,2}|leur|loro|dele|dela) (?:\w+ )?(?:conto|cuenta|compte|"
            r"konto|conta|carta|tarjeta|carte|karte|cartao|wallet|portafoglio|billetera|"
            r"portefeuille|carteira)\b|"
            r"\b(?:carta di credito|tarjeta de credito|carte bancaire|carte de credit|"
            r"kreditkarte|cartao de credito|bankkonto|conto corrente|cuenta bancaria|"
            r"compte bancaire|conta bancaria)\b|"
            rf"{SOMEONE_ELSES_RE.pattern}",
            re.S,
        ),
    ),
    (
        # Claims of the shop's authority in Hinglish and of admin rights in any language.
        "fake_authority",
        re.compile(
            r"\b(?:store|shop|dukaan|dukan|company) (?:ka|ki|ke) (?:manager|owner|malik|admin|"
            r"staff|employee)\b|\b(?:manager|owner|malik|admin|staff) (?:hoon|hu|hun)\b|"
            r"\bverification (?:nahi|nhi|nai) chahiye\b|"
            r"\b(?:permessi|permisos|permissoes|droits|rechte|berechtigung\w{0,3}|privileges?|"
            r"permissions?|rights|accesso|acceso|acces|zugang) (?:da |de |d'|of |as )?"
            r"(?:admin|administrat\w{0,4}|amministrat\w{0,4})\b|"
            r"\b(?:team|equipe|equipo|squadra) (?:di |de |du |del |da )?(?:amministrazione|"
            r"administracion|administration|administracao|verwaltung)\b",
        ),
    ),
    (
        # "skip the checks" in es, fr, de, it, pt and Hinglish.
        "override_instructions",
        re.compile(
            r"\b(?:salta\w{0,4}|saltar\w{0,4}|omet\w{0,4}|ometti\w{0,4}|saute[rz]?|"
            r"uberspring\w{0,4}|pula\w{0,2}|pular|skip)\b.{0,15}\b(?:controll\w{0,2}|"
            r"control\w{0,3}|verifica\w{0,4}|verification\w{0,1}|prufung\w{0,2}|"
            r"kontroll\w{0,2}|checks?)\b",
            re.S,
        ),
    ),
    (
        "prompt_leak",
        re.compile(
            r"\b(?:system prompt|your instructions|reveal your)\b|\b(?:repeat|print|show|output)"
            r"\b.{0,30}\b(?:text|instructions|prompt|messages?) above\b"
        ),
    ),
)
