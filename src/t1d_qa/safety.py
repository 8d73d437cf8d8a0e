"""Medical safety: screen(question) before retrieval, check(...) after composing.

Rules are data: each has a name, the kind it leads to, Chinese and English patterns, and
the reply it gives. Matching runs on a normalised question (full-width to half-width,
traditional to simplified for the characters the rules use, lower case, spaces collapsed),
so the same rule catches "２.８ ｍｍｏｌ／Ｌ", "暈倒" and "PASSED OUT".
Prompt-injection text is ordinary text: nothing in a question can switch a rule off.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from opencc import OpenCC

from . import replies, situation
from .corpus import language_of

_OPENCC = OpenCC("t2s")
# Traditional -> simplified for the characters that the rules and topic words use.
_T2S = str.maketrans("島劑藥單減該應麼們嗎這沒會識嘔爛蘋暈幹細臨試驗險發頭塗異斷時嚴測點顯現醫療癥狀態續變訴覺將還讓幾個輸給從來為甚與對説話關節視網腎臟離開長壽後過種類難題風濕術針傷吳極鐘腦膽喚睏脫離腫險費錢價驟轉換歲兒媽爺奪癇氣蘋鳳戶號級盡療這診門靜脈護劑隨訪懷齡資訊價錢廣證準產準歐飲運動癒", "岛剂药单减该应么们吗这没会识呕烂苹晕干细临试验险发头涂异断时严测点显现医疗症状态续变诉觉将还让几个输给从来为什与对说话关节视网肾脏离开长寿后过种类难题风湿术针伤吴极钟脑胆唤困脱离肿险费钱价骤转换岁儿妈爷夺痫气苹凤户号级尽疗这诊门静脉护剂随访怀龄资讯价钱广证准产准欧饮运动愈")


_CJK = r"\u3400-\u9fff\uf900-\ufaff"


def normalize(text: str) -> str:
    """The form every rule matches against.

    NFKC turns full-width digits, letters and punctuation into ASCII ("２．８ ｍｍｏｌ／Ｌ" ->
    "2.8 mmol/l"); _T2S maps the traditional characters the rules use; spaces typed between
    Chinese characters ("我 老 婆 晕 倒 了") and around a unit's slash ("mg / dL") are dropped.
    """
    text = _OPENCC.convert(unicodedata.normalize("NFKC", text)).translate(_T2S).lower()
    text = text.replace("毫摩尔/升", "mmol/l").replace("毫摩尔", "mmol").replace("毫克/分升", "mg/dl")
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(rf"(?<=[{_CJK}]) (?=[{_CJK}])", "", text)
    return re.sub(r"\b(mmol|mg) ?/ ?(l|dl)\b", r"\1/\2", text)


@dataclass(frozen=True)
class Screen:
    """What screening decided: kind "ok" lets the question through to retrieval."""

    kind: str  # ok | invalid | emergency | personal_advice | out_of_scope | out_of_scope_candidate
    rule: str = ""
    message: str = ""
    language: str = "en"
    # "insulin" | "immunosuppressant" | "insulin_and_immunosuppressant" when the question is about
    # stopping, reducing or skipping them; finish() adds replies.text(f"{topic}_warning").
    topic: str = ""
    reason: str = ""  # why, in words a clinician can read ("signs together: confused, sweating")
    team: str = ""  # personal advice: "diabetes" | "transplant", the team that decides
    places: frozenset[str] = frozenset()  # emergency: hk | macau | taiwan | abroad named in the message


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str
    zh: tuple[str, ...]
    en: tuple[str, ...]

    def matches(self, text: str) -> bool:
        return any(re.search(p, text) for p in self.zh + self.en)


# Someone real, now. The emergency and personal-advice rules need one of these, so a danger sign
# in a question about the condition ("what is DKA?") is not an emergency. 人 is here for
# "有人晕倒了"; _SOMEONE_ZH below leaves it out because "12个人里" is a count, not a person.
PERSON_ZH = r"(我|他|她|孩子|儿子|女儿|丈夫|老公|妻子|老婆|妈|爸|家人|朋友|宝宝|老人|病人|同事|人)"
PERSON_EN = (
    r"\b(i|i'm|im|i've|me|my|he|she|he's|she's|his|her|they|they're|we|our|someone|somebody|son|daughter|"
    r"husband|wife|child|kid|mom|mum|dad|mother|father|friend|partner|baby|grandma|grandpa)\b"
)
_SOMEONE_ZH = r"(我|他|她|孩子|儿子|女儿|丈夫|老公|妻子|老婆|妈|爸|家人|朋友|宝宝|老人|有人|同事)"
_SOMEONE = re.compile(f"{_SOMEONE_ZH}|{PERSON_EN}")

# A question about the research or the condition, not about someone now. With no person in it,
# a danger word or a low number in a question about a study ("试验中有多少受试者血糖低于2.8 mmol/L")
# is not an emergency, and a dose word ("试验中参与者每天用多少单位胰岛素") is not a request for
# personal advice. A definition or a "why" counts as general only when nothing says it is
# happening now: no low reading, no "what do I do", no "一直/right now".
_STUDY = re.compile(
    r"(试验中|研究中|试验里|研究里|受试者|参与者|患者们|\btrials?\b|\bstud(y|ies)\b|\bparticipants?\b|\bpatients in\b)"
)
_DEFINITION = re.compile(
    r"(什么是|是什么|什么意思|指的是|定义|分级|分为|为什么|为何|什么原因|哪些|什么症状|有什么表现|"
    r"\bwhat (is|are|does|do|causes)\b|\bmeans?\b|\bdefin|\bclassif|\blevel [123]\b|\bwhy\b|"
    r"\b(signs?|symptoms?) of\b)"
)
_ACTION = re.compile(r"(怎么办|怎么处理|该怎么做|怎么救|救命|help\b|what (do|should|can) (i|we)\b|what to do)")
_NOW = re.compile(r"(一直|正在|现在|刚才|刚刚|快要|right now|currently|\bkeeps?\b|won't stop|at the moment)")
# One's own treatment, now: "my insulin", "today", a family member, halving.
_PERSONAL_MARK = re.compile(
    r"我的|今天|明天|现在|马上|这周|本周|这几天|自己|自行|减半|减到|我妈|我爸|孩子|儿子|女儿|老公|老婆|丈夫|妻子|"
    r"\b(my|his|her|our|today|tonight|tomorrow|now|this week|half|son|daughter|husband|wife|mom|mum|dad|child)\b"
)

EMERGENCY_RULES = (
    Rule(
        "unconscious_or_not_breathing",
        "emergency",
        zh=(
            PERSON_ZH + r".{0,12}(昏迷|晕倒|昏倒|晕过去|昏过去|失去意识|不省人事|叫不醒|喊不醒|没有?意识|没有?反应|"
            r"没有?呼吸|停止呼吸|不呼吸|抽搐|癫痫发作|惊厥)",
            # no person named, but plainly happening now ("叫不醒，怎么办", "抽搐了")
            r"(昏迷|晕倒|昏倒|叫不醒|喊不醒|没有?呼吸|抽搐).{0,6}(了|怎么办|快|救)",
        ),
        en=(
            PERSON_EN + r".{0,40}\b(passed out|fainted|blacked out|collapsed|unconscious|unresponsive|"
            r"not responding|won't wake|will not wake|can't be woken|cannot be woken|can't wake|"
            r"not breathing|isn't breathing|is not breathing|stopped breathing|having a seizure|having seizures|"
            r"seizing|fitting|convulsing)",
        ),
    ),
    Rule(
        "severe_hypoglycaemia_signs",
        "emergency",
        zh=(
            PERSON_ZH + r".{0,16}(意识模糊|神志不清|糊涂|迷糊|说胡话|胡言乱语|站不稳).{0,20}(血糖|低血糖|mmol)",
            PERSON_ZH + r".{0,16}(血糖|低血糖).{0,20}(意识模糊|神志不清|糊涂|迷糊|说胡话|胡言乱语|不能吞咽|咽不下)",
        ),
        en=(
            PERSON_EN + r".{0,60}\b(confused|disoriented|slurring|can't swallow|cannot swallow|unable to swallow)"
            r".{0,60}\b(sugar|glucose|hypo|low|mmol|mg)",
            PERSON_EN + r".{0,60}\b(sugar|glucose|hypo|low|mmol|mg).{0,60}\b(confused|disoriented|"
            r"slurring|can't swallow|cannot swallow)",
        ),
    ),
    Rule(
        "diabetic_ketoacidosis_signs",
        "emergency",
        zh=(
            r"(呕吐|吐了|一直吐).{0,24}(血糖(很|特别|非常)?高|高血糖|酮|hi\b)",
            r"(血糖(很|特别|非常)?高|高血糖|酮).{0,24}(呕吐|吐了|一直吐)",
            PERSON_ZH + r".{0,20}(呼吸(很|特别|非常)?(快|急促|深快|深大|困难)|喘不上气)",
            r"(烂苹果味|丙酮味|指甲油味|水果味)",
            PERSON_ZH + r".{0,12}(嗜睡|昏昏欲睡|叫不太醒).{0,20}(血糖|酮)",
        ),
        en=(
            r"\b(vomit\w*|throwing up|threw up)\b.{0,60}\b(high (blood )?(sugar|glucose)|ketones?)",
            r"\b(high (blood )?(sugar|glucose)|ketones?)\b.{0,60}\b(vomit\w*|throwing up|threw up)",
            PERSON_EN + r".{0,40}\b(breathing (very |really )?(fast|deep|deeply|heavily|hard)|"
            r"rapid breathing|deep breathing|can't catch (his|her|my) breath)",
            r"\b(fruity|nail[- ]polish|pear[- ]drops?|acetone)\b.{0,20}\b(breath|smell)",
            PERSON_EN + r".{0,40}\b(drowsy|very sleepy|hard to wake)\b.{0,60}\b(sugar|glucose|ketones?)",
            r"\b(high (blood )?(sugar|glucose)|ketones?)\b.{0,60}\b(drowsy|very sleepy|hard to wake)",
            r"\b(breath)\b.{0,30}\b(fruity|nail[- ]polish|pear[- ]drops?|acetone)",
        ),
    ),
)

# A measured glucose: below 3.0 mmol/L (54 mg/dL) is an emergency (ADA level 2), and below
# 3.9 mmol/L (70 mg/dL) too when shaking, sweating or similar symptoms come with it. Each unit
# is compared with its own threshold, so 70 mg/dL is not rounded into "below 3.9".
LOW_MMOL, LOW_MGDL = 3.0, 54.0
LOW_WITH_SYMPTOMS_MMOL, LOW_WITH_SYMPTOMS_MGDL = 3.9, 70.0

# A number with a glucose unit always counts.
_UNIT_VALUE = re.compile(r"(?<![\d.\-~–])(\d+(?:\.\d+)?)\s*(mmol/l|mmol|mg/dl)")
# A bare number counts when it directly follows a glucose or reading word ("血糖2.5",
# "CGM says 45", "my sugar is 2.6"); letters between the word and the number break the link,
# except the few linking words listed. "reading" needs "is/was/of" ("reading 2 papers").
_READING_VALUE = re.compile(
    r"(血糖仪|血糖|cgm|读数|显示|测出|测得|sugar|glucose|\bbg\b|\breads\b|\bsays\b|\bshows\b|\bshowing\b|"
    r"\bmeter\b|\breading (?=is|was|of))"
    r"[^0-9a-z]{0,12}(?:(?:is|was|at|of|only|just|about|around|now|down to|dropped to)\b[^0-9a-z]{0,4})?"
    r"(\d+(?:\.\d+)?)(?![\d.])\s*(mmol/l|mmol|mg/dl|mg)?"
)
# ...but not when what follows the bare number shows it is a time, a count or a range:
# "glucose 2 hours after a meal", "血糖在饭后2小时", "glucose at 1 year", "2 of 12 patients".
_NOT_A_READING = re.compile(
    r"\s*(小时|个?月|年|周|天|日|分钟|次|个|人|名|例|位|型|岁|克|%|/|-|~|–|到|至|"
    r"(hours?|hrs?|h|minutes?|mins?|days?|weeks?|months?|years?|yrs?|times?|patients?|people|participants?|"
    r"of|out|type|percent|grams?|g|carbs?|papers?|studies|trials?|x|am|pm)\b)"
)
_HYPO_SYMPTOMS = re.compile(
    r"(发抖|手抖|颤抖|在抖|出汗|冷汗|心慌|心悸|头晕|迷糊|糊涂|shak|trembl|sweat|dizzy|pounding heart|racing heart|"
    r"confus|jittery)"
)

# Who is taking the medicine: "my", "his"... (en), or 我/孩子/我妈... (zh).
_OWN_EN = r"(my|his|her|our)"
_STOP_EN = r"(stop|skip|quit|halve|cut|reduce|lower|lessen|drop|decrease|taper|wean off|come off|go off|get off)"
_MEDICINE_EN = (
    r"(insulin|basal|bolus|immunosuppress\w*|anti-?rejection|tacrolimus|medication|meds|medicine|pills|"
    r"injections?|dose)"
)
_MEDICINE_ZH = r"(胰岛素|抗排异药?|抗排斥药?|免疫抑制剂?|他克莫司|药)"
_STOP_ZH = r"(停|减|不打|不用|不吃|少打|少吃|停掉|减半|减量|断掉|跳过)"

PERSONAL_ADVICE_RULES = (
    Rule(
        "individual_dose",
        "personal_advice",
        zh=(
            # "打多少" alone is not enough: "试验用多少细胞" asks about the study, so a unit or a
            # medicine must follow, or a person must be asking.
            r"(打|注射|用|追加|加|补|吃|服)多少(个)?(单位|u\b|剂量|毫克|mg|片|粒|胰岛素|速效|长效|基础|他克莫司|药)",
            r"(我|孩子|他|她).{0,10}(应该|该|要|需要)?(打|注射|追加|补|吃|服)多少",
            r"(多少|几个?)单位",
            r"(减|加|调|降)(到|至)多少",
            # "我的剂量是多少" / "剂量应该是多少", not "VX-880的剂量是多少" (a question about the study)
            r"(我|我的|孩子|他|她)\S{0,6}(剂量|用量)(应该|该|要)?(是)?多少",
            r"(剂量|用量)(应该|该|要)(是)?多少",
            r"(应该|该|要|需要)(用|打|吃|服)(多大|多少)(剂量|的剂量)",
        ),
        en=(
            r"\bhow (many|much) (units?|insulin|mg|milligrams?|tablets?|pills?)\b.{0,40}\b(should|do|must|to) "
            r"(i|we|he|she|my)\b",
            r"\bhow (many|much)\b.{0,30}\b(should|do|must) (i|we|he|she)\b.{0,30}\b(take|inject|give|dose|bolus|use|"
            r"increase|reduce)",
            # word order of a request wrapped in role-play: "tell me how many units of insulin I should take"
            r"\bhow (many|much)\b.{0,40}\b(i|we|he|she) (should|need to|must|have to|ought to) (take|inject|give|"
            r"dose|bolus|use)",
            r"\bwhat (dose|dosage|amount)\b.{0,40}\b(should|do|must) (i|we|he|she|my)\b",
            r"\b(my|our|his|her) (insulin |basal |bolus |tacrolimus |)(dose|dosage)\b.{0,40}\b(should|change|adjust|"
            r"increase|reduce|lower)",
            r"\bhow (many|much)\b.{0,30}\b(units?|mg)\b.{0,30}\b(should|do) (i|we)\b",
            r"\b(should|can|do) (i|we)\b.{0,20}\b(take|inject|give)\b.{0,20}\b\d+(\.\d+)? ?(units?|u|mg)\b",
        ),
    ),
    Rule(
        "change_own_treatment",
        "personal_advice",
        zh=(
            r"我.{0,8}(能不能|能否|可不可以|可以|能|要不要|该不该|是否可以).{0,8}(今天|明天|现在|马上|先|自己|自行)?"
            r".{0,4}" + _STOP_ZH + r".{0,6}(我的)?" + _MEDICINE_ZH,
            r"(我|我的).{0,6}(胰岛素|抗排异药|抗排斥药|免疫抑制剂|他克莫司).{0,10}(减半|减掉|减少一半|停掉|停了|不打了|"
            r"不吃了|减到)",
            # the medicine first, then the question: "我妈的他克莫司可以减量吗"
            r"(我|我的|孩子|儿子|女儿|丈夫|老公|妻子|老婆)的?.{0,4}" + _MEDICINE_ZH
            + r".{0,4}(能不能|能否|可不可以|可以|能|要不要|该不该|是否可以|需不需要)" + _STOP_ZH,
            # "我该不该把胰岛素停掉"; 加 must not be 加入 ("我该加入哪个临床试验" is not about a dose)
            r"我.{0,10}(应该|该|要不要|需不需要).{0,6}(减量|减少|减半|加量|加大|增加|调整|停用|停掉|停|减|加(?!入))"
            r".{0,6}(胰岛素|药|剂量|他克莫司|抗排|免疫抑制|针)",
            r"我.{0,10}(应该|该|要不要|需不需要).{0,2}把?" + _MEDICINE_ZH + r".{0,6}(减|加|调|停)",
            r"(今天|明天|现在|马上).{0,6}(停|不打|不用|减).{0,4}胰岛素",
        ),
        en=(
            # "Can I stop insulin after stem cell therapy?" (no "my") is a general question and is
            # answered with the insulin warning; "Can I stop MY insulin..." is a personal decision.
            r"\b(can|could|should|may|shall) (i|we|he|she)\b.{0,25}\b" + _STOP_EN + r"\b.{0,25}\b" + _OWN_EN + " "
            + _MEDICINE_EN,
            r"\b(i|we) (can|could|should|may)\b.{0,20}\b" + _STOP_EN + r"\b.{0,25}\b" + _OWN_EN + " " + _MEDICINE_EN,
            r"\bis it (ok|okay|safe|fine|alright|all right)\b.{0,30}\b" + _STOP_EN + r"\b.{0,25}\b" + _OWN_EN + " "
            + r"(\w+ )?" + _MEDICINE_EN,
            r"\b" + _STOP_EN + r"\b.{0,20}\b" + _OWN_EN + " " + _MEDICINE_EN
            + r"\b.{0,30}\b(today|tonight|tomorrow|now|right away|this week)",
            r"\b(can|could|should) (i|we)\b.{0,25}\b" + _STOP_EN + r"\b.{0,30}\b(today|tonight|tomorrow|now|right away)",
            r"\bcut (my|his|her) insulin\b",
            # "should I stop tacrolimus?" asks for advice on one's own treatment, "my" or not
            r"\bshould (i|we)\b.{0,20}\b" + _STOP_EN + r"\b.{0,25}\b" + _MEDICINE_EN,
            r"\b(should|can|could) (i|we)\b.{0,20}\b(stop|skip|quit) taking (my |the )?(insulin|immunosuppress\w*|"
            r"anti-?rejection|tacrolimus)",
        ),
    ),
)

# Words that put a question in this chatbot's field; a question with none of them is only
# answered when retrieval still finds a close passage (an in-scope paraphrase).
TOPIC_ZH = (
    "糖尿病", "胰岛", "胰岛素", "血糖", "干细胞", "细胞", "移植", "c肽", "糖化", "免疫", "排异", "排斥",
    "试验", "低血糖", "酮", "胰腺", "β", "诊所", "医院", "治愈", "根治", "停药", "打针", "针", "注射",
    "临床", "研究", "论文", "副作用", "风险", "复查", "随访", "抗排", "他克莫司", "达标",
)
TOPIC_EN = (
    "diabet", "insulin", "islet", "stem", "cell", "transplant", "glucose", "sugar", "hba1c", "a1c",
    "c-peptide", "peptide", "immun", "rejection", "trial", "zimislecel", "vx-880", "vx880", "cips", "ipsc",
    "lantidra", "hypo", "ketoacidosis", "dka", "pancrea", "beta", "clinic", "cure", "study", "injection",
    "side effect", "risk", "t1d", "vertex", "tacrolimus", "time in range",
)
# Clearly another subject. Stem cells for another disease ("my knee arthritis") are out of scope
# even though "stem cells" is a topic word; diabetes words in the same question keep it in.
OFF_TOPIC = Rule(
    "other_topics",
    "out_of_scope",
    zh=(
        r"(关节炎|膝盖|抗衰老|美容|变年轻|脱发|自闭症|帕金森|阿尔茨海默|中风|股票|基金|炒股|天气|代码|编程|菜谱|旅游|彩票)",
        r"写.{0,8}(诗|代码|程序|作文)",
    ),
    en=(
        r"\b(arthritis|knee|anti-?aging|look younger|wrinkles?|hair loss|autism|parkinson\W?s?|alzheimer\W?s?|stroke|"
        r"stocks?|shares|invest\w*|weather|poem|poetry|python script|javascript|recipe|lottery|football)\b",
        r"\b(write|debug|fix)\b.{0,20}\b(code|program|script|function|essay)\b",
    ),
)

INSULIN_CHANGE = Rule(
    "insulin_change_topic",
    "warning",
    zh=(
        r"(停|减|不打|不用|少打|脱离|撤除|摆脱|告别|跳过|断).{0,8}(胰岛素|针)",
        r"胰岛素.{0,8}(停|减量|减少|不打|独立)",
    ),
    en=(
        r"\b(stop\w*|skip\w*|quit\w*|reduc\w*|cut\w*|halv\w*|lower\w*|come off|coming off|get off|off) .{0,20}\binsulin\b",
        r"\binsulin[- ](free|independen\w*)\b",
        r"\bwithout insulin\b",
    ),
)
IMMUNOSUPPRESSANT_CHANGE = Rule(
    "immunosuppressant_change_topic",
    "warning",
    zh=(r"(停|减|不吃|断|撤|跳过|少吃).{0,6}(抗排异|抗排斥|免疫抑制|他克莫司)",
        r"(抗排异|抗排斥|免疫抑制|他克莫司).{0,8}(停|减量|减少|不吃)"),
    en=(r"\b(stop\w*|skip\w*|quit\w*|reduc\w*|cut\w*|halv\w*|lower\w*|come off|get off) .{0,25}"
        r"\b(immunosuppress\w*|anti-?rejection|tacrolimus)",),
)

# Promotional or absolute claims: never produced by this chatbot.
PROMOTIONAL = Rule(
    "promotional_claim",
    "blocked",
    zh=(r"(根治|保证治愈|包治|100%有效|百分之百|治愈率|彻底治愈|永久治愈|一次治愈|一劳永逸|无任何风险|没有任何风险|最好的医院|比其他医院|彻底摆脱针管|治好了|包好|百分百有效|100% ?有效)",),
    en=(
        r"\b(guarantee[sd]?|100% (effective|cure|success)|cure rate|permanent cure|cures? (type 1 )?diabetes|"
        r"risk[- ]free|no risks?|completely safe|100% safe|better than other (hospitals|clinics)|best (hospital|clinic)|"
        r"(is|are|was|were|been|get|got) cured|100 ?% (effective|cure|success))\b",
    ),
)
# "功能性治愈/functional cure" may be reported only from a source that gives its limitation.
CURE_WORDS = re.compile(r"(治愈|cure[ds]?\b)")

# A reported success: people off insulin. "不需要胰岛素" and "truly stop insulin" are how the
# Chinese reference card and the commercial article phrase it; "never to stop insulin" (the NHS
# warning) is not a success, hence the look-behinds.
TRIAL_SUCCESS = re.compile(
    r"(停用胰岛素|停掉胰岛素|脱离胰岛素|撤除胰岛素|摆脱胰岛素|告别胰岛素|(不再|不)需要胰岛素|胰岛素独立|"
    r"无需胰岛素|无胰岛素|不用(打)?胰岛素|insulin[- ]free|insulin independen|no longer need(ed|s)? insulin|"
    r"(needed|need|required) no insulin|did not need insulin|(?<!never to )(?<!not )(?<!never )"
    r"(truly |really |completely |fully )?stop(ped)? (taking |using )?insulin|off insulin|free (them |people )?from "
    r"(daily )?insulin)",
    re.I,
)
LIMITATION = re.compile(
    r"(局限|样本|仅\s*1|只有一|一名患者|单例|小规模|免疫抑制|抗排异|死亡|尚未批准|未获批|未批准|不良事件|随访时间|"
    r"limitation|small|only one|single|one patient|n ?= ?1|immunosuppress|death|died|not approved|"
    r"investigational|adverse|uncontrolled|follow-up was|only 1)",
    re.I,
)


def screen(question: str, max_chars: int) -> Screen:
    """Classify a question before retrieval; rules, not a model, decide.

    Order matters: invalid, then emergency (an emergency inside a dose question is still an
    emergency), then personal advice, then scope. Nothing in the question can skip a step. A
    question over the length limit is still checked for an emergency before it is refused.
    """
    text = question if isinstance(question, str) else ""
    if not text.strip():
        return Screen("invalid", "empty", replies.text("invalid_empty", language_of(text)), language_of(text))
    language = language_of(text)
    norm = normalize(text)
    # A question about a study or the condition, with nobody in it, is never an emergency and
    # never a request for a personal dose.
    general = not _SOMEONE.search(norm) and bool(
        _STUDY.search(norm)
        or (_DEFINITION.search(norm) and not (_ACTION.search(norm) or _NOW.search(norm) or _has_low_value(norm)))
    )
    # a space between Chinese words is a pause: keep it as a clause break for the situation screen
    finding = situation.analyse(normalize(re.sub(rf"(?<=[{_CJK}]{{2}})\s+(?=[{_CJK}]{{2}})", "，", text)))
    decision = situation.emergency(finding)
    if not decision.kind and not general and LEGACY:
        rule = emergency_rule(norm)  # the phrase rules: a second net under the situation screen
        if rule:
            decision = situation.Decision("emergency", rule, "matched the phrase rule " + rule)
    if decision.kind:
        return Screen("emergency", decision.rule, language=language, reason=decision.reason,
                      places=frozenset(finding.places))
    if len(text) > max_chars:
        return Screen("invalid", "too_long", replies.text("invalid_too_long", language, limit=max_chars), language)
    topic = change_topic(norm)
    outcome = topic == "insulin" and _outcome_question(norm)
    advice = situation.personal_advice(finding)
    if LEGACY and not advice.kind and (not general or _PERSONAL_MARK.search(norm)):
        for rule in PERSONAL_ADVICE_RULES:
            if rule.name == "change_own_treatment" and outcome:
                continue
            if rule.matches(norm):
                advice = situation.Decision("personal_advice", rule.name, "matched the phrase rule " + rule.name,
                                            "transplant" if "immunosuppressant" in topic else "diabetes")
                break
    if advice.kind and not (advice.rule == "change_own_treatment" and outcome):
        return Screen("personal_advice", advice.rule, language=language, topic=topic or _team_topic(advice.team),
                      reason=advice.reason, team=advice.team)
    if OFF_TOPIC.matches(norm) and not _on_topic(norm, strict=True):
        return Screen("out_of_scope", OFF_TOPIC.name, language=language)
    if not _on_topic(norm):
        return Screen("out_of_scope_candidate", "no_topic_word", language=language, topic=topic)
    return Screen("ok", language=language, topic=topic)


LEGACY = False


def _team_topic(team: str) -> str:
    return "immunosuppressant" if team == "transplant" else "insulin"


def emergency_rule(norm: str) -> str:
    """The name of the emergency rule the normalised text matches, or ""."""
    for rule in EMERGENCY_RULES:
        if rule.matches(norm):
            return rule.name
    if _low_glucose_emergency(norm):
        return "low_glucose_value"
    if _VOMITING.search(norm) and _has_high_value(norm):
        return "diabetic_ketoacidosis_signs"
    return ""


# "我做了干细胞治疗以后能停用胰岛素吗？" / "Can I stop insulin after stem cell therapy?" ask what
# the therapy makes possible: answered with the evidence and the insulin warning. "my insulin",
# "today", "自己" make it a decision about one's own treatment now (personal_advice).
_AFTER_THERAPY = re.compile(
    r"(干细胞|胰岛|移植|细胞|治疗)\S{0,6}(以后|之后|后)|\bafter (the |a |an )?(stem[- ]?cell|islet|cell|transplant|therap)"
)


def _outcome_question(norm: str) -> bool:
    return bool(_AFTER_THERAPY.search(norm)) and not _PERSONAL_MARK.search(norm)


def change_topic(norm_text: str) -> str:
    """Which warning a question or answer about stopping/reducing medicine needs, or ""."""
    insulin = INSULIN_CHANGE.matches(norm_text)
    immuno = IMMUNOSUPPRESSANT_CHANGE.matches(norm_text)
    if insulin and immuno:
        return "insulin_and_immunosuppressant"
    return "insulin" if insulin else "immunosuppressant" if immuno else ""


def _on_topic(norm: str, strict: bool = False) -> bool:
    if strict:  # "stem cells for my knee" names stem cells but is about another disease
        return bool(re.search(r"(糖尿病|胰岛|血糖|diabet|insulin|islet|glucose|t1d)", norm))
    return any(w in norm for w in TOPIC_ZH) or any(w in norm for w in TOPIC_EN)


def _glucose_values(norm: str) -> list[tuple[float, str]]:
    """(value, "mmol" | "mg") for each glucose reading in the question."""
    found: dict[int, tuple[float, str]] = {}
    for m in _UNIT_VALUE.finditer(norm):
        found[m.start(1)] = (float(m.group(1)), "mg" if m.group(2).startswith("mg") else "mmol")
    for m in _READING_VALUE.finditer(norm):
        if m.start(2) in found:
            continue
        value, unit = float(m.group(2)), m.group(3) or ""
        if not unit and _NOT_A_READING.match(norm, m.end(2)):
            continue
        if unit.startswith("mg") or (not unit and value > 35):  # a bare number above 35 cannot be mmol/L
            found[m.start(2)] = (value, "mg")
        else:
            found[m.start(2)] = (value, "mmol")
    return list(found.values())


_VOMITING = re.compile(r"(呕吐|吐了|一直吐|想吐|vomit\w*|throwing up|threw up|being sick)")
# A decimal reading with no glucose word next to it ("I'm at 2.4 and shaking"): only with symptoms.
_BARE_LOW = re.compile(r"(?<![\d.])([0-3]\.\d)(?![\d.])")
HIGH_MMOL, HIGH_MGDL = 13.9, 250  # with vomiting: possible DKA (NHS: go to A&E with ketones and vomiting)


def _has_low_value(norm: str) -> bool:
    return any(v < (LOW_WITH_SYMPTOMS_MGDL if u == "mg" else LOW_WITH_SYMPTOMS_MMOL) for v, u in _glucose_values(norm))


def _has_high_value(norm: str) -> bool:
    return any(v >= (HIGH_MGDL if u == "mg" else HIGH_MMOL) for v, u in _glucose_values(norm))


def _low_glucose_emergency(norm: str) -> bool:
    symptoms = bool(_HYPO_SYMPTOMS.search(norm))
    for value, unit in _glucose_values(norm):
        low, low_symptoms = (LOW_MGDL, LOW_WITH_SYMPTOMS_MGDL) if unit == "mg" else (LOW_MMOL, LOW_WITH_SYMPTOMS_MMOL)
        if value < low or (symptoms and value < low_symptoms):
            return True
    return symptoms and bool(_BARE_LOW.search(norm))


# -- after composing


def allowed_sentence(sentence: str, metadata: dict) -> bool:
    """May this corpus sentence appear in an answer? No promotional or unattributed cure claims."""
    norm = normalize(sentence)
    if PROMOTIONAL.matches(norm):
        return False
    # The commercial article's own cure wording is left out; the reference cards report it with
    # attribution and its limitation.
    return not (metadata.get("kind") == "article" and CURE_WORDS.search(norm))


def needs_balance(text: str) -> bool:
    """True when an answer reports a trial success without any limitation next to it."""
    return bool(TRIAL_SUCCESS.search(text)) and not LIMITATION.search(text)


def is_limitation(sentence: str) -> bool:
    return bool(LIMITATION.search(sentence))


def violations(text: str) -> list[str]:
    """Promotional wording or dose instructions in a finished reply (must be empty)."""
    norm = normalize(text)
    found = []
    if PROMOTIONAL.matches(norm):
        found.append("promotional claim")
    if re.search(r"(请|应|应该|可以)(停用|停掉|停|减少|减半|不打|不用)(你的|您的)?胰岛素|"
                 r"\byou (should|can|could|may) (stop|reduce|halve|skip|quit|come off|cut) (taking )?(your )?insulin", norm):
        found.append("instruction to change insulin")
    return found
