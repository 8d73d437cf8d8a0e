"""Every user-facing sentence of fixed wording, per language, in one reviewed place.

Sources for the wording (see corpus/safety-*.md for the full citations):
- emergency first aid: St John Ambulance "Diabetic emergency" (sja.org.uk); NHS "Diabetic
  ketoacidosis" (nhs.uk); ADA Standards of Care, table 6.3 (hypoglycaemia levels). The emergency
  number is general knowledge (120 in mainland China) and configurable: the clinic sets its own
  with T1D_QA_EMERGENCY_NUMBER, and the reply shows only that number.
- insulin: NHS guidance that people with type 1 diabetes must never stop insulin unless a
  healthcare professional says so (NHS Forth Valley; NHS Wales 111).
- AI label: China's rules for labelling AI-generated content, in force since 2025-09-01.
- crisis reply: China's national psychological assistance hotline 12356 (connected nationwide
  since 1 May 2025; configurable with T1D_QA_CRISIS_LINE), WHO guidance on talking about suicide
  (say it directly, listen, do not leave the person alone, remove the means).
- other emergency numbers: 999 in Hong Kong and Macau, 119 in Taiwan; elsewhere the local number
  (911, 999, 112, ...); corpus/safety-*.md, "emergency numbers".
- chest pain and stroke: NHS "Chest pain" (call 999 / the emergency number for sudden chest pain
  that spreads or comes with breathlessness or sweating) and NHS "Stroke" (FAST: face, arms,
  speech, time to call).
"""

from __future__ import annotations

AI_LABEL = {"zh": "AI生成内容", "en": "AI-generated"}

TEXTS: dict[str, dict[str, str]] = {
    # Order as the issue asks: what to do now, the emergency number first, the diabetes team last;
    # no literature. Sources per step: call / emergency department / not improving after sugar /
    # recovery position: St John Ambulance "Diabetic emergency"; fast sugar only if awake and able
    # to swallow, nothing by mouth otherwise, glucagon by a trained person: St John Ambulance and
    # the NHS; DKA signs and "go to A&E": nhs.uk "Diabetic ketoacidosis" (see corpus/safety-*.md).
    "emergency": {
        "zh": (
            "⚠️ 这可能是急症，请先处理，不要等待网上的回答。\n"
            "1. 立即拨打急救电话 {number}，或马上去最近医院的急诊科。\n"
            "2. 如果可能是低血糖，且患者清醒、能够吞咽：马上给予快速起效的糖（如果汁、含糖饮料、葡萄糖片），"
            "之后复测血糖；如果没有很快好转，请拨打 {number}。\n"
            "3. 如果患者昏迷、抽搐或无法吞咽：不要喂任何食物或饮料，连糖和水也不要；如身边有人受过培训并备有胰高血糖素，"
            "可以使用；如果患者有呼吸，让其侧卧（复原卧位）并守在身边，等待急救人员；如果没有呼吸，立即告诉急救电话接线员，"
            "按其指导操作。\n"
            "4. 如果有呕吐、呼吸深快、呼气有烂苹果味、嗜睡等酮症酸中毒表现：立即去急诊。\n"
            "5. 情况稳定后，请尽快联系您的糖尿病医疗团队。"
        ),
        "en": (
            "⚠️ This may be an emergency. Act first; do not wait for an online answer.\n"
            "1. Call the emergency number {number} now, or go to the nearest emergency department.\n"
            "2. If it may be low blood sugar and the person is awake and able to swallow: give fast-acting sugar "
            "(juice, a sugary drink, glucose tablets) now, then recheck the glucose; if they do not improve "
            "quickly, call {number}.\n"
            "3. If the person is unconscious, having a seizure or cannot swallow: give nothing by mouth, not even "
            "sugar or water; use glucagon if someone trained has it; if they are breathing, lay them on their side "
            "(recovery position) and stay with them until help arrives; if they are not breathing, tell the "
            "emergency call handler at once and follow their instructions.\n"
            "4. If there is vomiting, deep or fast breathing, fruity-smelling breath or drowsiness (signs of "
            "diabetic ketoacidosis): go to the emergency department now.\n"
            "5. Once the person is safe, contact their diabetes team."
        ),
    },
    # Chest pain and stroke signs: the same first step, without the hypoglycaemia steps.
    "emergency_general": {
        "zh": (
            "⚠️ 这可能是急症，请先处理，不要等待网上的回答。\n"
            "1. 立即拨打急救电话 {number}，或马上去最近医院的急诊科；不要自己开车去。\n"
            "2. 守在患者身边，记下症状开始的时间，告诉接线员患者有1型糖尿病，并按其指导操作。\n"
            "3. 情况稳定后，请尽快联系您的糖尿病医疗团队。"
        ),
        "en": (
            "⚠️ This may be an emergency. Act first; do not wait for an online answer.\n"
            "1. Call the emergency number {number} now, or go to the nearest emergency department; do not drive "
            "yourself.\n"
            "2. Stay with the person, note the time the symptoms started, tell the call handler they have type 1 "
            "diabetes and follow their instructions.\n"
            "3. Once the person is safe, contact their diabetes team."
        ),
    },
    # Self-harm or an intended insulin overdose: caring, direct, the crisis line and 120.
    "crisis": {
        "zh": (
            "听到这些，我很担心。无论是您自己还是您身边的人有这样的想法，都不必一个人扛着。\n"
            "1. 如果已经有人伤害了自己、打了过量的胰岛素，或随时可能这样做：请立即拨打 {number}，或马上去最近的急诊科。"
            "如果打了过多胰岛素、人还清醒能吞咽，在等待时吃或喝含糖的东西。\n"
            "2. 现在就可以拨打心理援助热线 {crisis_line}，和受过训练的人聊一聊。\n"
            "3. 如果是您自己：请告诉身边信任的人您现在的感受，让他们陪着您，把多余的胰岛素和药物交给别人保管。"
            "如果是您身边的人：不要让他/她独处，把胰岛素和药物收起来，陪着他/她一起打这个电话。\n"
            "长期与糖尿病相处真的很累，这种感受值得被认真对待，糖尿病医疗团队也可以帮忙找到支持。"
        ),
        "en": (
            "I'm really concerned about what you've written. Whether these thoughts are yours or someone close to you, "
            "nobody has to carry this alone.\n"
            "1. If someone has hurt themselves, taken extra insulin, or might do so at any moment: call {number} now, "
            "or go to the nearest emergency department. If too much insulin was taken and they are awake and can "
            "swallow, eat or drink something sugary while you wait.\n"
            "2. You can call the crisis line {crisis_line} now and talk to someone trained to help.\n"
            "3. If it is you: tell someone you trust how you feel and ask them to stay with you; give spare insulin "
            "and medicines to someone else to keep. If it is someone close to you: don't leave them alone, put the "
            "insulin and medicines away, and make the call together.\n"
            "Living with diabetes day after day is exhausting, and these feelings matter. A diabetes team can also "
            "help find support."
        ),
    },
    # Added to an emergency reply in English, or when the message names a place outside mainland China.
    "emergency_elsewhere": {
        "zh": "如果您不在中国大陆：香港和澳门请拨打 999，台湾请拨打 119，其他国家和地区请拨打当地急救电话（例如 911、999、112）。",
        "en": (
            "If you are not in mainland China: in Hong Kong and Macau call 999, in Taiwan 119; anywhere else call "
            "your local emergency number (e.g. 911, 999, 112)."
        ),
    },
    "emergency_hk": {"zh": "您在香港：请拨打 999，而不是下文的 {number}。", "en": "In Hong Kong, call 999 instead of {number} below."},
    "emergency_macau": {"zh": "您在澳门：请拨打 999，而不是下文的 {number}。", "en": "In Macau, call 999 instead of {number} below."},
    "emergency_taiwan": {"zh": "您在台湾：请拨打 119，而不是下文的 {number}。", "en": "In Taiwan, call 119 instead of {number} below."},
    "personal_advice_diabetes": {
        "zh": (
            "我不能替您决定个人的胰岛素或其他糖尿病药物怎么用、用多少，也不能建议您开始、停用、减量或跳过——"
            "这只能由您的糖尿病医疗团队根据您的血糖、C肽等检查结果来决定。请不要自行调整。"
        ),
        "en": (
            "I can't decide how much insulin or other diabetes medicine someone should take, or advise starting, "
            "stopping, reducing or skipping it. Only your diabetes team can make that decision, based on glucose "
            "readings, C-peptide and other tests. Please don't change it on your own."
        ),
    },
    "personal_advice_transplant": {
        "zh": (
            "我不能替您决定抗排异（免疫抑制）药物怎么用、用多少，也不能建议您停用、减量或跳过——"
            "这只能由您的移植医疗团队根据血药浓度和检查结果来决定。请不要自行调整，有副作用请尽快告诉移植团队。"
        ),
        "en": (
            "I can't decide how much anti-rejection (immunosuppressant) medicine someone should take, or advise "
            "stopping, reducing or skipping it. Only your transplant team can make that decision, based on drug "
            "levels and tests. Please don't change it on your own, and tell your transplant team about side effects."
        ),
    },
    "personal_advice_evidence": {
        "zh": "以下是研究资料中的一般信息，供您与医生讨论时参考：",
        "en": "Here is what the studies in our sources report in general, to discuss with your team:",
    },
    "insulin_warning": {
        "zh": "重要提示：1型糖尿病患者必须依靠胰岛素维持生命。只有您的糖尿病医疗团队才能决定是否以及如何减少或停用胰岛素，请勿自行停用、减量或跳过。",
        "en": "Important: people with type 1 diabetes depend on insulin to live. Only your diabetes team may decide whether and how to reduce or stop insulin; never stop, reduce or skip it on your own.",
    },
    "immunosuppressant_warning": {
        "zh": "重要提示：抗排异（免疫抑制）药物只能由您的移植医疗团队调整，请勿自行停用或减量。",
        "en": "Important: anti-rejection (immunosuppressant) medicines may only be changed by your transplant team; never stop or reduce them on your own.",
    },
    # Both at once ("can I stop insulin and tacrolimus?"): safety.change_topic() returns this key.
    "insulin_and_immunosuppressant_warning": {
        "zh": (
            "重要提示：1型糖尿病患者必须依靠胰岛素维持生命；抗排异（免疫抑制）药物也只能由移植医疗团队调整。"
            "是否以及如何减少或停用胰岛素或抗排异药，只能由您的糖尿病/移植医疗团队决定，请勿自行停用、减量或跳过。"
        ),
        "en": (
            "Important: people with type 1 diabetes depend on insulin to live, and anti-rejection "
            "(immunosuppressant) medicines may only be changed by the transplant team. Only your diabetes or "
            "transplant team may decide whether and how to reduce or stop either; never stop, reduce or skip "
            "them on your own."
        ),
    },
    "no_answer": {
        "zh": "抱歉，我的资料库里没有能回答这个问题的内容，我不想凭猜测回答。建议您向您的医生或糖尿病医疗团队咨询。",
        "en": "Sorry, my sources don't cover this, and I won't guess. Please ask your doctor or diabetes team.",
    },
    # Reviewed answers (corpus/answers): the library has no entry for this aspect of the study
    # named, so the general entry for the aspect answers, and the reply says so.
    "library_general": {
        "zh": "我的资料里没有专门针对这项研究的回答，以下是关于这个问题的总体情况：",
        "en": "My sources have no answer about that study in particular; this is what they say in general:",
    },
    # No entry matched the question: the closest one is shown under its own question, and the next ones are
    # offered as questions to ask (Matcher.nearest). Says plainly which question is answered (a hedge such as "I'm not
    # sure I understood" read as false doubt on the many right picks, a second patient reader found).
    "library_nearest": {
        "zh": "以下是与您的问题最接近、我有审核过回答的问题：",
        "en": "This is the closest question to yours that I have a checked answer for:",
    },
    "library_suggestions": {
        "zh": "如果您想问的是别的，可以试试这样问：",
        "en": "If you meant something else, you could ask:",
    },
    # Honest partial answers (extractive composer): the question's focus is not in the sources.
    "focus_absent": {
        "zh": "我的资料里没有提供关于{focus}的信息，没有能回答这个问题的内容，我不想凭猜测回答。建议您向您的医生或糖尿病医疗团队咨询。",
        "en": "My sources don't give {focus}, and I won't guess. Please ask your doctor or diabetes team.",
    },
    "focus_related": {
        "zh": "资料中相关的内容是：",
        "en": "What they do say that is related:",
    },
    "out_of_scope": {
        "zh": (
            "抱歉，这个问题超出了我的范围。我只能根据资料回答关于干细胞治疗1型糖尿病的问题，"
            "例如临床研究结果、风险、免疫抑制、能否停用胰岛素以及如何识别正规临床试验。您可以试着问：\n"
            "· 干细胞治疗后能停用胰岛素吗？\n· zimislecel试验有哪些风险？"
        ),
        "en": (
            "Sorry, that is outside what I can help with. I answer questions about stem-cell therapy for type 1 "
            "diabetes from my sources: trial results, risks, immunosuppression, whether insulin can be stopped, "
            "and how to recognise a genuine clinical trial. You could ask:\n"
            "· Can I stop insulin after stem cell therapy?\n· What are the risks of the zimislecel trial?"
        ),
    },
    "invalid_empty": {
        "zh": "请输入您的问题。",
        "en": "Please type a question.",
    },
    "invalid_too_long": {
        "zh": "问题太长了（上限 {limit} 个字符），请缩短后再问。",
        "en": "The question is too long (limit {limit} characters); please shorten it.",
    },
    "contact": {
        "zh": "如需进一步帮助，请联系：{contact}",
        "en": "For further help, contact: {contact}",
    },
    "error": {
        "zh": "抱歉，系统暂时无法回答，请稍后再试。如有紧急情况，请拨打 {number}。",
        "en": "Sorry, the system cannot answer right now; please try again later. In an emergency call {number}.",
    },
}


def emergency(rule: str, places: frozenset[str] | set[str], language: str, number: str, crisis_line: str) -> str:
    """The fixed emergency reply: which steps by the rule, then the numbers for where the person is."""
    crisis = rule in ("self_harm", "learned_self_harm")
    key = "crisis" if crisis else "emergency_general" if rule in ("chest_pain", "stroke_signs", "learned_chest_stroke") \
        else "emergency"
    first, _, steps = text(key, language, number=number, crisis_line=crisis_line).partition("\n")
    named = [p for p in ("hk", "macau", "taiwan") if p in places]
    # the number where the person is comes right after the first line, before any step
    parts = [first, *(text(f"emergency_{p}", language, number=number) for p in named), steps]
    if language == "en" or "abroad" in places or (places - {"mainland"} and not named):
        parts.append(text("emergency_elsewhere", language))
    return "\n".join(parts)


def text(key: str, language: str, **values: object) -> str:
    lang = "zh" if language == "zh" else "en"
    return TEXTS[key][lang].format(**values)
