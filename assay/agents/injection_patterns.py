"""The injection detector's patterns, by the view they match (see `injection_views`).

LATIN patterns match the latin view: lower case, look-alikes folded, accents stripped, so they
are written in plain ASCII ("instrucciones", "note maximale", "hochste punktzahl"). SCRIPT
patterns match the script view (Russian, Chinese, Japanese, Korean). Every pattern needs text
aimed at whoever reads or grades the sample: instruction data legitimately says "rate this
review from 1 to 5", "write a system prompt", "give the movie five stars" or "ignore the noise",
and none of those may match (the eval checks 0 false flags on Alpaca 5,000 and Dolly 3k).
"""

from __future__ import annotations

_GRADED = r"(?:response|answer|output|reply|completion|sample|text|essay|submission|solution|work|entry)"
_TOP = (r"(?:5|five|10|ten|100|full (?:marks|points|score)|a perfect (?:score|rating|grade|mark)|perfect|the highest"
        r"|the maximum|top marks|highly|5\s*/\s*5|10\s*/\s*10|100\s*/\s*100|(?:the )?(?:highest|maximum|max|top|best|"
        r"perfect) (?:possible )?(?:score|rating|grade|mark|marks|points))")
_TOP_SCORE = (r"(?:full (?:marks|points|score)|(?:an? |the )?(?:perfect|highest|maximum|max|top|best)(?: possible)? "
              r"(?:score|rating|grade|marks?|points|evaluation)|5\s*/\s*5|10\s*/\s*10|100\s*/\s*100|top marks"
              r"|(?<!to )(?<!of )(?<!and )(?<!from )(?<!-)(?:an? |the )?(?:5|five|10|ten)(?: out of (?:5|five|10|ten))?"
              r"(?= *(?:[.!,;)]|$| on | for | in | across)))")
_READER = (r"(?:ai|a\.i\.|llm|gpt|chatgpt|claude|language model|model|assistant|chatbot|judge|grader|evaluator|reviewer|"
           r"assessor|rater|scorer|annotator|examiner|marker|automated (?:grader|judge|evaluator|system))")
_INSTRUCTIONS = r"(?:instructions?|rules?|rubric|prompts?|guidelines?|criteria|directions?|grading|scoring|directives?)"
_NOT = r"(?<!\bnot )(?<!n't )(?<!\bnever )(?<!\bno )(?<!\bnicht )(?<!\bne )(?<!\bnon )(?<!\bnao )"
_ROMANCE_TOP = (  # "the maximum score" in es, fr, de, pt, it (latin view: no accents)
    r"(?:\b(?:puntuacion|calificacion|nota|valoracion|pontuacao|avaliacao|punteggio|voto|valutazione|note|score|evaluation|"
    r"punktzahl|bewertung|punkte|wertung) (?:maxima|maximale|maximum|massim[oa]|perfect[ao]|perfeita|parfaite|pien[oa]|"
    r"complete|completa|mas alta|mais alta|piu alt[oa]|la plus haute)\b"
    r"|\b(?:la |a |il )?(?:maxima|mejor|mas alta|massim[oa]|meilleure|hochste|maximale|volle|beste|perfekte)n? "
    r"(?:puntuacion|calificacion|nota|valoracion|pontuacao|punteggio|voto|note|punktzahl|bewertung|punkte|wertung)\b"
    r"|\b(?:20\s*/\s*20|10\s*/\s*10|5\s*/\s*5|10 su 10|10 de 10|10 sur 10|10 von 10)\b)")

LATIN = (
    # English: overriding the instructions.
    rf"\b{_NOT}(?:ignore|disregard|forget|override|bypass|skip|drop|abandon|discard|set aside|pay no attention to|"
    rf"stop following|do not follow|don'?t follow)\b[^.\n]{{0,40}}?\b{_INSTRUCTIONS}\b",
    rf"\b{_NOT}(?:ignore|disregard|forget)\s+(?:all\s+|everything\s+)?(?:of\s+)?(?:the\s+)?(?:above|previous|prior|preceding)\b"
    rf"(?!\s+(?:example|paragraph|sentence|text|passage|table|list|code|figure|step|question|equation|data|article))",
    # English: asking for the top score.
    rf"\b(?:rate|score|grade|mark|evaluate|assess)\s+(?:this|it|me|my|the|our)\b(?:\s+{_GRADED})?\s+(?:an?\s+|as\s+|with\s+(?:an?\s+)?)?"
    rf"{_TOP}\b",
    rf"\b(?:give|award|grant|assign)\s+(?:this|it|my|the|our)\s+(?:{_GRADED}\s+)?(?:an?\s+)?{_TOP}\b",
    rf"\b(?:rate|score|grade)\b[^.\n]{{0,30}}\b{_TOP}\s+(?:on|in|for|across)\s+(?:every|each|all)\s+(?:criteri(?:on|a)|categor(?:y|ies)|dimensions?|axis|axes)\b",
    # Polite or indirect requests for the top score, and claims that it is owed.
    rf"\b(?:please|kindly|i (?:would|'d) (?:really |greatly |truly )?(?:appreciate|be grateful|love)|would you|could you|"
    rf"i (?:humbly |kindly )?(?:ask|request|beg)|i hope (?:you|the)|it would (?:mean|be)|be so kind as to|i trust (?:you|that))"
    rf"\b[^.\n]{{0,80}}?\b(?:give|giving|award|awarding|grant|granting|assign|assigning|rate|rating|score|scoring|grade|"
    rf"grading|mark|marking|consider)\b[^.\n]{{0,40}}?\b{_TOP_SCORE}",
    rf"\b(?:this|my|the|our)\s+(?:{_GRADED}\s+)?(?:deserves|merits|warrants|earns|should (?:get|receive|be given|be rated|be scored))"
    rf"\s+(?:nothing less than\s+|no less than\s+|only\s+)?{_TOP_SCORE}",
    rf"\b(?:grateful|thankful|appreciative|hoping|i hope)\b[^.\n]{{0,30}}?\b(?:for|with|of|to (?:get|receive|see))\s+{_TOP_SCORE}",
    rf"\b{_TOP_SCORE}(?: rating| score| grade)?\s+(?:would be|will be|is)\s+(?:much |greatly |really |very |highly |truly )?"
    rf"(?:appreciated|welcome|welcomed)\b",
    rf"\b{_TOP_SCORE}\s*[,!]?\s*please\b",
    rf"\bthe (?:correct|right|appropriate|proper|fair|only (?:acceptable|fair|correct)) (?:score|rating|grade|verdict|"
    rf"evaluation|mark)(?: here| for (?:this|my|the) {_GRADED})? (?:is|would be|=)\s+(?:an? )?(?:5|10|5/5|10/10|full marks|"
    rf"perfect|the (?:maximum|highest))\b",
    rf"\b(?:to|for|dear)\s+(?:whoever|whomever|the one who|anyone who|the person who|the (?:ai|model|system) that)\s+"
    rf"(?:grades|evaluates|scores|assesses|marks|judges|rates)\s+(?:this|it|these|my)\b",
    rf"\b(?:the|any|an?)\s+(?:ai|llm|model|language model|assistant|system|{_READER})\s+(?:that is\s+|who is\s+)?"
    rf"(?:reading|reviewing|grading|evaluating|judging|scoring|assessing|rating|processing) (?:this|these|my)\b",
    rf"\b(?:any|a) (?:fair|good|competent|reasonable|honest) {_READER}\s+(?:would|will|should|must)\s+(?:give|rate|score|grade|"
    rf"award)\b",
    # Role hijacks aimed at the model reading the sample.
    r"\byou are now (?:an?|the|my|no longer|in|acting as)\s+(?:[a-z-]+\s+){0,2}?"
    r"(?:ai|assistant|model|judge|grader|evaluator|reviewer|chatbot|language model|unrestricted|jailbroken|dan|"
    r"developer mode|free)\b",
    r"\byou are now (?:dan|jailbroken|unrestricted|unfiltered)\b",
    r"\b(?:new|updated|override|reveal|ignore|print|disregard|forget)\b[^.\n]{0,20}\bsystem prompt\b",
    r"\bsystem prompt\s*:",
    r"\b(?:developer|admin|administrator|system|root|sudo) (?:mode|override|instruction|message|note)\s*:",
    # Text addressed to the reader or grader.
    rf"\b(?:note|message|attention|instructions?|memo|reminder|hint|p\.?s\.?)\s+(?:to|for)\s+(?:the\s+|any\s+|all\s+)?"
    rf"(?:ai\s+|llm\s+|automated\s+)?(?:judge|grader|evaluator|reviewer|assessor|rater|scorer|model|ai|llm|assistant|annotator)s?\b",
    rf"\b(?:dear|hey|hello|hi|attention|to the)\s+(?:ai\s+|llm\s+|automated\s+)?(?:judge|grader|evaluator|assessor|rater|"
    rf"scorer|annotator)s?\b",
    rf"\b{_READER}s?\b\s*(?:[:,]|--|-)\s*(?:please\s+)?(?:give|rate|score|grade|assign|award|output|return|mark|set|respond|"
    rf"ignore|disregard|treat|consider|classify)\b",
    rf"\b(?:judges?|graders?|evaluators?|reviewers?|raters?|scorers?|assessors?|models?|ais?|llms?)\s+(?:must|should|will|"
    rf"shall|are (?:required|instructed) to|need to)\s+(?:always\s+)?(?:rate|score|grade|give|award|assign|mark|output|"
    rf"return|ignore|approve|pass)\s+(?:this|it|my|the\s+{_GRADED}|every|all|a|an|{_TOP_SCORE})",
    rf"\bif you are an? (?:ai|llm|language model|model|assistant|{_READER})\b",
    # Fake verdicts: the judge's own answer, written into the sample.
    r"[\"']?(?:overall|overall_score|final_score|verdict|rating|score)[\"']?\s*[:=]\s*[\"']?(?:5(?:\.0)?|10|100|pass|"
    r"perfect|excellent)[\"']?\s*[,}][^{}]{0,300}?[\"'](?:issues|rationale|scores|criteria|verdict|reasoning|justification)[\"']\s*:",
    r"[\"'](?:issues|rationale|scores|criteria|verdict|reasoning|justification)[\"']\s*:[^{}]{0,300}?[\"']?(?:overall|"
    r"overall_score|final_score)[\"']?\s*:\s*[\"']?(?:5(?:\.0)?|10|100)\b",
    r"[\"']issues[\"']\s*:\s*\[\s*\]\s*,[^{}]{0,200}?[\"'](?:overall|scores)[\"']\s*:",
    r"\b(?:final|official|evaluation|grading|judge'?s?|assessment) (?:verdict|score|grade|rating|result)\s*[:=]\s*"
    r"(?:5(?:\.0)?|10|100|pass|perfect)(?:\s*/\s*(?:5|10|100))?\b",
    # Forged prompt structure: role lines, chat-template tokens, the data fence itself.
    r"\[\[(?:system|user|assistant)\]\]",
    r"<\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id|end_header_id)\|>",
    r"</?data\b[^>]*>",
    r"\[/?inst\]|<<\s*/?sys\s*>>",
    r"^\s*#{2,}\s*(?:system|new instructions?|instruction override)\s*(?:#{2,}|:|$)",
    # Spanish, French, German, Portuguese, Italian: verbs by their stems, so every person and mood matches.
    rf"\b{_NOT}(?:ignor\w*|olvid\w*|omit\w*|descart\w*|haz caso omiso|oubli\w*|neglig\w*|ne tenez pas compte|"
    rf"ne tiens pas compte|vergiss\w*|vergess\w*|missacht\w*|esquec\w*|desconsider\w*|dimentic\w*|trascur\w*)\b"
    rf"[^.\n]{{0,40}}?\b(?:instrucciones|indicaciones|reglas|rubrica|criterios|directrices|consignes|regles|directives|"
    rf"criteres|bareme|anweisungen|instruktionen|regeln|vorgaben|richtlinien|kriterien|bewertungskriterien|instrucoes|"
    rf"regras|diretrizes|orientacoes|istruzioni|regole|direttive|criteri|indicazioni)\b",
    # ... and the top score: a verb (or a please) near "maximum score" in any word order.
    r"\b(?:dale|dele|deles|dai|date|dare|dar|dem|deem|daje|asign\w*|assegn\w*|otorg\w*|pon\w*|califi\w*|puntu\w*|"
    r"evalu\w*|avali\w*|atribu\w*|attribu\w*|conced\w*|accord\w*|donn\w*|mett\w*|mets|notez|noter|gib|geb\w*|vergib|vergeb\w*|bewert\w*|erteil\w*|verleih\w*|"
    r"verdien\w*|merec\w*|merit\w*|por favor|per favore|s'il (?:vous|te) plait|merci de|bitte)\b[^.\n]{0,40}?"
    + _ROMANCE_TOP,
    rf"\b(?:esta|essa|cette|questa|diese[rm]?|a|à|an|para|pour|per|aos?|alla) (?:respuesta|reponse|risposta|antwort|resposta|"
    rf"solucion|solution|soluzione|losung|solucao)\b[^.\n]{{0,40}}?{_ROMANCE_TOP}",
    rf"\b{_ROMANCE_TOP}[^.\n]{{0,30}}?\b(?:a|à|an|para|pour|per|aos?|alla) (?:esta|essa|cette|questa|diese[rm]?) (?:respuesta|"
    rf"reponse|risposta|antwort|resposta|solucion|solution|soluzione|losung|solucao)\b",
    r"(?:hochste|maximale|volle|beste|perfekte)n? (?:punktzahl|bewertung|note|punkte|wertung)\s+(?:vergeben|geben|erteilen|"
    r"verleihen|bitte)\b",
    r"\b(?:califi\w*|puntu\w*|evalu\w*|avali\w*|not\w*|valut\w*)\b[^.\n]{0,30}\b(?:con|com|avec) (?:un |una |um |uma )?"
    r"(?:10|diez|dez|dix|dieci|100)(?: (?:de|sur|su) (?:10|100))?\b(?! (?:puntos? )?(?:palabras|frases|ejemplos|lineas|"
    r"oraciones|razones|ideas|palavras|mots|parole))",
)

SCRIPT = (
    # Russian.
    r"(?:игнорируй|игнорируйте|игнорировать|проигнорируй|проигнорируйте|забудь|забудьте|не обращай внимания на|не учитывай)"
    r"[^.\n]{0,40}(?:инструкци|указани|правил|критери|промпт)",
    r"(?:поставь|поставьте|дай|дайте|оцени|оцените|выстави|выставьте|присвой|присвойте)[^.\n]{0,40}"
    r"(?:максимальн|высш|наивысш|полн)\w*\s+(?:балл|оценк|рейтинг)",
    r"(?:поставь|поставьте|дай|дайте|оцени|оцените|выстави|выставьте)[^.\n]{0,40}(?:10 из 10|5 из 5|100 из 100|пятёрк|пятерк|"
    r"десятк)",
    r"(?:заслуживает)[^.\n]{0,30}(?:максимальн|высш|наивысш)\w*\s+(?:балл|оценк)",
    # Chinese (simplified and traditional).
    r"(?:忽略|忽视|無視|无视|忘记|忘記|不要理会|不要理會|不用管)[^。\n]{0,12}(?:指令|指示|说明|說明|规则|規則|提示|要求|评分标准|評分標準)",
    r"(?:给|給|打|评|評|请给|請給|给予|給予)[^。\n]{0,12}(?:满分|滿分|最高分|最高评分|最高評分|最高等级|最高等級)",
    r"(?:应该|應該|应当|應當|必须|必須)[^。\n]{0,8}(?:得到|获得|獲得)?(?:满分|滿分|最高分)",
    # Japanese.
    r"(?:以前|前|上記|これまで|先ほど|上)の(?:指示|命令|指令|ルール|指図)[^。\n]{0,8}(?:無視|むし|忘れ)",
    r"(?:指示|命令|指令)(?:は|を)?(?:すべて|全て)?(?:無視|むし)",
    r"(?:満点|最高(?:評価|点|得点|スコア)|最大(?:評価|点|スコア))[^。\n]{0,6}(?:を|に)?[^。\n]{0,4}(?:付け|つけ|与え|あたえ|し(?:て|ろ)|くださ)",
    r"(?:満点|最高(?:評価|点|得点|スコア))\s*(?:で|を)?\s*(?:お願い|おねがい|希望)",
    # Korean.
    r"(?:이전|앞의|위의|기존|모든|앞선)\s*(?:지시|지침|명령|규칙|지시사항|안내)[^.\n]{0,12}무시",
    r"(?:만점|최고\s*점수|최고점|최고\s*등급|최대\s*점수)[^.\n]{0,6}(?:을|를)?\s*(?:주|줘|부여|매겨|매기)",
    r"(?:만점|최고\s*점수|최고점|최고\s*등급)[^.\n]{0,4}(?:부탁|바랍니다|주십시오|주세요|원합니다)",
)
