"""Every user-facing sentence of fixed wording, per language, in one reviewed place.

Sources for the wording (see corpus/safety-*.md for the full citations):
- emergency first aid: St John Ambulance "Diabetic emergency" (sja.org.uk); NHS "Diabetic
  ketoacidosis" (nhs.uk); ADA Standards of Care, table 6.3 (hypoglycaemia levels). The emergency
  number is general knowledge (120 in mainland China) and configurable: the clinic sets its own
  with T1D_QA_EMERGENCY_NUMBER, and the reply shows only that number.
- insulin: NHS guidance that people with type 1 diabetes must never stop insulin unless a
  healthcare professional says so (NHS Forth Valley; NHS Wales 111).
- AI label: China's rules for labelling AI-generated content, in force since 2025-09-01.
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
    "personal_advice": {
        "zh": (
            "我不能替您决定个人的胰岛素或抗排异药物剂量，也不能建议您停用、减量或跳过用药——"
            "这些只能由您的糖尿病/移植医疗团队根据您的血糖、C肽等检查结果来决定。"
            "请不要自行调整。"
        ),
        "en": (
            "I can't decide an individual dose of insulin or anti-rejection medicine for you, or advise you to "
            "stop, reduce or skip it. Only your diabetes or transplant team can make that decision, based on "
            "your glucose readings, C-peptide and other tests. Please don't change it on your own."
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


def text(key: str, language: str, **values: object) -> str:
    lang = "zh" if language == "zh" else "en"
    return TEXTS[key][lang].format(**values)
