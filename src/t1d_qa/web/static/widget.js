/* t1d-qa chat client: the widget on a clinic page (one <script src=".../widget.js" defer>) and the
 * chat page at /chat/ (the same script with data-mode="page"), so both behave the same.
 *
 * Self-contained: no other scripts, fonts or hosts. Untrusted text (questions, answers, sources)
 * is only ever set with textContent, never parsed as HTML.
 *
 * The server writes its settings into SERVER below when it serves this file: the emergency number,
 * the fixed emergency and error texts (src/t1d_qa/replies.py), the danger word list
 * (static/danger-words.json), the timeout, the clinic's name, contact and privacy page. When the
 * server is down, times out or errors, those texts are what the patient sees.
 *
 * data- attributes on the script tag (all optional):
 *   data-api       base URL of the t1d-qa server (default: where widget.js was loaded from)
 *   data-lang      "zh" | "en" | "auto" (default "auto": the remembered switch, the page's <html lang>, the browser)
 *   data-title     the panel's heading
 *   data-position  "right" (default) | "left"
 *   data-open      "true" to start with the panel open
 *   data-mode      "widget" (default) | "page" (fills the element with id data-target, default "t1d-qa")
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__t1dQaWidget) return;
  window.__t1dQaWidget = true;
  var SERVER = /*t1d-qa:config*/null;
  if ((script.dataset || {}).mode !== "page") return client(document.createElement("div"));
  // The page is a Gradio app: Gradio draws its blocks by script, so wait for the container.
  var target = script.dataset.target || "t1d-qa";
  if (document.getElementById(target)) return client(document.getElementById(target));
  var watcher = new MutationObserver(function () {
    var found = document.getElementById(target);
    if (found) { watcher.disconnect(); client(found); }
  });
  watcher.observe(document.documentElement, { childList: true, subtree: true });

  function client(host) {
    var cfg = SERVER || { number: "120", replies: {}, danger: {}, timeout_ms: 15000, max_chars: 2000 };
    var data = script.dataset || {};
    var pageMode = data.mode === "page";
    var base = new URL(data.api || ".", script.src).href.replace(/\/?$/, "/");
    var STORE_KEY = "t1d-qa:" + base;
    var MAX_TURNS = 6, MAX_SAVED = 40;

    var TEXT = {
      zh: {
        title: "干细胞治疗1型糖尿病 · 问答", open: "打开问答", hide: "收起问答", close: "关闭", send: "发送",
        placeholder: "请输入您的问题", question: "您的问题", label: "AI生成内容", sources: "参考来源",
        thinking: "正在查找资料…", up: "有帮助", down: "没有帮助", thanks: "谢谢您的反馈。",
        comment: "补充意见（可选）", commentSend: "提交意见", commentThanks: "已收到您的意见，谢谢。", notSaved: "意见未能保存，请稍后再试。", voteNotSaved: "反馈未能保存，请稍后再试。",
        busy: "提问过于频繁，请 {s} 秒后再试。", resolved: "结合上文理解为：", newChat: "新对话",
        switchTo: "English", switchLang: "en", log: "对话记录",
        notice: "自动问答助手，不是医生。紧急情况请立即拨打", call: "拨打 {n}", emergency: "紧急情况",
        runBy: "本服务由{c}提供。", hello: "您好！我是关于干细胞治疗1型糖尿病的自动问答助手，不是医生，不能为您诊断或调整用药。",
        scope: "我可以根据经过审核的资料，回答研究进展、风险、免疫抑制、能否停用胰岛素、如何识别正规临床试验等问题。",
        urgent: "如遇低血糖昏迷、抽搐、呼吸困难等紧急情况，请不要等待回答，立即拨打",
        privacy: "您的问题不会被保存；赞/踩和意见会匿名保存。请勿输入姓名、身份证号、病历号等个人信息。",
        privacyStored: "您的问题会与您的赞/踩一起匿名保存。请勿输入姓名、身份证号、病历号等个人信息。",
        privacyTab: "对话只保存在本浏览器标签页中，关闭后即清除。", privacyLink: "隐私说明",
        person: "如需联系医护人员：{c}", personNone: "如需与医护人员交流，请联系您的诊所或糖尿病医疗团队。",
        examples: "您可以这样问：", contact: "联系我们：{c}",
        offline: "问答服务暂时无法连接。以下是本机保存的急救要点：",
        tooLong: "问题太长了（{n} 个字符，上限 {max}），请缩短后再发送。",
        readSource: "查看原文（新窗口）", reviewed: "审核日期：{d}", asOf: "资料截至：{d}",
        blocked: "本网站还不能使用问答服务。网站管理员：请把 {o} 加入服务器的 T1D_QA_ALLOWED_ORIGINS。",
        exampleQs: ["干细胞能治愈1型糖尿病吗？", "干细胞治疗有哪些风险？", "做了干细胞治疗以后能停用胰岛素吗？"]
      },
      en: {
        title: "Stem-cell therapy for type 1 diabetes: Q&A", open: "Open the Q&A", hide: "Hide the Q&A", close: "Close",
        send: "Send", placeholder: "Type your question", question: "Your question", label: "AI-generated",
        sources: "Sources", thinking: "Looking it up…", up: "Helpful", down: "Not helpful",
        thanks: "Thank you for your feedback.", comment: "Comment (optional)", commentSend: "Send comment",
        commentThanks: "Comment received, thank you.", notSaved: "Your comment could not be saved; please try later.", voteNotSaved: "Your vote could not be saved; please try later.", busy: "Too many questions; please try again in {s} s.",
        resolved: "Understood with the earlier question as: ", newChat: "New chat", switchTo: "中文",
        switchLang: "zh", log: "Conversation",
        notice: "An automated assistant, not a doctor. In an emergency call", call: "Call {n}", emergency: "Emergency",
        runBy: "This service is provided by {c}.",
        hello: "Hello! I am an automated assistant about stem-cell therapy for type 1 diabetes. I am not a doctor and cannot diagnose you or change your medicines.",
        scope: "From reviewed sources I can answer questions about the research, risks, immunosuppression, whether insulin can be stopped, and how to recognise a genuine clinical trial.",
        urgent: "If someone is unconscious, having a seizure or struggling to breathe, do not wait for an answer: call",
        privacy: "Your questions are not stored; votes and comments are stored without your name. Please do not enter names, ID or medical record numbers.",
        privacyStored: "Your questions are stored with your votes, without your name. Please do not enter names, ID or medical record numbers.",
        privacyTab: "The conversation is kept only in this browser tab and is gone when you close it.",
        privacyLink: "Privacy notice", person: "To talk to a person: {c}",
        personNone: "To talk to a person, contact your clinic or diabetes team.",
        examples: "You could ask:", contact: "Contact: {c}",
        offline: "The Q&A service cannot be reached right now. Here are the first-aid steps kept on this device:",
        tooLong: "The question is too long ({n} characters, limit {max}); please shorten it.",
        readSource: "Read it in context (new window)", reviewed: "Reviewed: {d}", asOf: "Sources as of: {d}",
        blocked: "This website cannot use the Q&A service yet. Web team: add {o} to T1D_QA_ALLOWED_ORIGINS on the server.",
        exampleQs: ["Can stem cells cure type 1 diabetes?", "What are the risks of stem-cell therapy?", "What did the zimislecel (VX-880) trial find?"]
      }
    };

    var lang = pickLanguage(data.lang);
    var history = [], items = [], busyAsking = false, originBlocked = false;
    if (!pageMode) host.id = "t1d-qa-widget";
    var root = host.attachShadow({ mode: "open" });
    addStyles(root, css(data.position === "left" ? "left" : "right"));

    var bubble = null;
    if (!pageMode) {
      bubble = el("button", "bubble", { type: "button", "aria-expanded": "false", "aria-controls": "t1d-panel" });
      bubble.appendChild(el("span", "bubble-icon", { "aria-hidden": "true" }, "?"));
      bubble.appendChild(el("span", "bubble-text"));
      root.appendChild(bubble);
    }
    var panel = el("div", "panel" + (pageMode ? " page" : ""), { id: "t1d-panel" });
    if (!pageMode) {
      panel.setAttribute("role", "dialog");
      panel.setAttribute("aria-labelledby", "t1d-title");
      panel.hidden = true;
    }
    var head = el("div", "head");  // a div, not <header>: no second banner landmark on the clinic's page
    var heading = el(pageMode ? "h1" : "h2", "title", { id: "t1d-title" });
    var tools = el("div", "tools");
    var langBtn = el("button", "tool lang-switch", { type: "button" });
    var newBtn = el("button", "tool new-chat", { type: "button" });
    tools.appendChild(langBtn);
    tools.appendChild(newBtn);
    var closeBtn = null;
    if (!pageMode) {
      closeBtn = el("button", "tool close", { type: "button" }, "×");
      tools.appendChild(closeBtn);
    }
    head.appendChild(heading);
    head.appendChild(tools);
    var notice = el("p", "notice");
    var setup = el("p", "setup", { role: "status", hidden: "" });
    var log = el("div", "log", { role: "log", "aria-live": "polite", tabindex: "0" });
    var form = el("form", "form");
    var box = el("div", "box");
    var input = el("textarea", "input", { rows: "1", id: "t1d-input" });
    var sendBtn = el("button", "send", { type: "submit" });
    sendBtn.appendChild(el("span", null, { "aria-hidden": "true" }, "➤"));
    box.appendChild(input);
    box.appendChild(sendBtn);
    var counter = el("p", "counter", { "aria-live": "polite", hidden: "" });
    form.appendChild(box);
    form.appendChild(counter);
    var footer = el("p", "footer");
    [head, notice, setup, log, form, footer].forEach(function (n) { panel.appendChild(n); });
    root.appendChild(panel);

    if (bubble) bubble.addEventListener("click", function () { setOpen(panel.hidden); });
    if (closeBtn) closeBtn.addEventListener("click", function () { setOpen(false); });
    langBtn.addEventListener("click", function () {
      lang = lang === "zh" ? "en" : "zh";
      try { localStorage.setItem("t1d-qa-lang", lang); } catch (e) { /* storage off: not remembered */ }
      renderChrome();
      langBtn.focus();
    });
    newBtn.addEventListener("click", function () {
      history = []; items = []; save();
      clear(log);
      log.appendChild(welcome());
      input.focus();
    });
    panel.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && !pageMode) { e.preventDefault(); setOpen(false); }
      if (e.key === "Tab" && isModal()) trapFocus(e);
    });
    input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); }
    });
    input.addEventListener("input", updateCounter);
    form.addEventListener("submit", function (e) { e.preventDefault(); submit(); });

    renderChrome();
    restore();
    function mount() {
      if (!pageMode) {
        document.body.appendChild(host);
        checkOrigin();
        if (data.open === "true") setOpen(true);
      }
    }
    if (pageMode || document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);

    // -- chrome: every fixed text, in the interface language

    function renderChrome() {
      var T = TEXT[lang];
      if (pageMode) {
        document.documentElement.lang = htmlLang(lang);
        document.title = data.title || T.title;
      }
      panel.setAttribute("lang", htmlLang(lang));
      heading.textContent = data.title || T.title;
      langBtn.textContent = T.switchTo;
      langBtn.setAttribute("lang", htmlLang(T.switchLang));
      newBtn.textContent = T.newChat;
      if (closeBtn) closeBtn.setAttribute("aria-label", T.close);
      if (bubble) bubble.lastChild.textContent = panel.hidden ? T.open : T.hide;
      clear(notice);
      notice.appendChild(el("strong", "label", null, T.label));
      notice.appendChild(document.createTextNode(" " + T.notice + " "));
      notice.appendChild(callLink(lang, "call-inline"));
      log.setAttribute("aria-label", T.log);
      input.setAttribute("aria-label", T.question);
      input.setAttribute("placeholder", T.placeholder);
      sendBtn.setAttribute("aria-label", T.send);
      clear(footer);
      if (cfg.privacy_url) {
        footer.appendChild(el("a", null, { href: cfg.privacy_url, target: "_blank", rel: "noopener" }, T.privacyLink));
      }
      if (cfg.contact) footer.appendChild(el("span", null, null, T.contact.replace("{c}", cfg.contact)));
      footer.hidden = !footer.firstChild;
      if (originBlocked) setup.textContent = T.blocked.replace("{o}", location.origin);
      var old = log.querySelector(".welcome");
      if (old) log.replaceChild(welcome(), old);
      updateCounter();
    }

    function welcome() {
      var T = TEXT[lang];
      var w = el("div", "welcome", { lang: htmlLang(lang) });
      if (cfg.clinic) w.appendChild(el("p", "run-by", null, T.runBy.replace("{c}", cfg.clinic)));
      w.appendChild(el("p", null, null, T.hello));
      w.appendChild(el("p", null, null, T.scope));
      var urgent = el("p", "urgent", null, T.urgent + " ");
      urgent.appendChild(callLink(lang, "call"));
      w.appendChild(urgent);
      var privacy = el("p", "privacy", null, (cfg.stores_questions ? T.privacyStored : T.privacy) + " " + T.privacyTab + " ");
      if (cfg.privacy_url) privacy.appendChild(el("a", null, { href: cfg.privacy_url, target: "_blank", rel: "noopener" }, T.privacyLink));
      w.appendChild(privacy);
      w.appendChild(el("p", "person", null, cfg.contact ? T.person.replace("{c}", cfg.contact) : T.personNone));
      w.appendChild(el("p", "examples-title", null, T.examples));
      var list = el("ul", "examples");
      T.exampleQs.forEach(function (q) {
        var li = el("li");
        var b = el("button", "example", { type: "button" }, q);
        b.addEventListener("click", function () { input.value = q; submit(); });
        li.appendChild(b);
        list.appendChild(li);
      });
      w.appendChild(list);
      return w;
    }

    function setOpen(open) {
      panel.hidden = !open;
      bubble.setAttribute("aria-expanded", String(open));
      bubble.lastChild.textContent = open ? TEXT[lang].hide : TEXT[lang].open;
      panel.setAttribute("aria-modal", String(open && isModal()));
      if (open) { input.focus(); scrollToLast(); }
      else bubble.focus();
    }

    function isModal() { return !pageMode && !panel.hidden && window.matchMedia("(max-width: 480px)").matches; }

    function trapFocus(e) {
      var nodes = Array.prototype.filter.call(
        panel.querySelectorAll("button, a[href], textarea, summary, [tabindex='0']"),
        function (n) { return !n.disabled && n.getClientRects().length; });
      if (!nodes.length) return;
      var first = nodes[0], last = nodes[nodes.length - 1], active = root.activeElement;
      if (e.shiftKey && (active === first || !panel.contains(active))) { e.preventDefault(); last.focus(); }
      else if (!e.shiftKey && (active === last || !panel.contains(active))) { e.preventDefault(); first.focus(); }
    }

    // -- asking

    function submit() {
      var question = input.value.trim();
      if (!question || busyAsking) return;
      var L = languageOf(question);
      if (question.length > cfg.max_chars) {  // keep the text so it can be shortened; never cut it silently
        if (dangerKey(question)) return show({ type: "local", key: dangerKey(question), lang: L, question: question });
        return show({ type: "note", text: TEXT[L].tooLong.replace("{n}", question.length).replace("{max}", cfg.max_chars), lang: L });
      }
      input.value = "";
      updateCounter();
      show({ type: "user", text: question, lang: L });
      var pending = addNode(el("p", "msg pending", { role: "status", lang: htmlLang(L) }, TEXT[L].thinking));
      busyAsking = true;
      sendBtn.disabled = true;
      ask(question).then(function (result) {
        pending.remove();
        showResult(question, L, result);
      }).finally(function () {
        busyAsking = false;
        sendBtn.disabled = false;
        if (!root.activeElement || root.activeElement === sendBtn) input.focus();
      });
    }

    function ask(question) {
      if (originBlocked) return Promise.resolve({ status: 0, body: {} });
      var controller = window.AbortController ? new AbortController() : null;
      var timer = setTimeout(function () { if (controller) controller.abort(); }, cfg.timeout_ms);
      var request = fetch(base + "api/ask", {
        method: "POST", signal: controller ? controller.signal : undefined,
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ question: question, history: history.slice(-MAX_TURNS) })
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          return { status: response.status, retry: response.headers.get("Retry-After"), body: body };
        });
      });
      var deadline = new Promise(function (resolve) {  // also without AbortController
        setTimeout(function () { resolve({ status: 0, body: {} }); }, cfg.timeout_ms + 100);
      });
      return Promise.race([request, deadline]).catch(function () { return { status: 0, body: {} }; })
        .finally(function () { clearTimeout(timer); });
    }

    function showResult(question, L, result) {
      var body = result.body || {};
      if (typeof body.answer === "string" && body.kind) {
        show({ type: "answer", data: body });
        history.push({ role: "user", content: question }, { role: "assistant", content: body.answer });
        save();
      } else if (result.status === 429) {
        show({ type: "note", text: TEXT[L].busy.replace("{s}", result.retry || "60"), lang: L, call: true });
      } else if (dangerKey(question)) {
        show({ type: "local", key: dangerKey(question), lang: L, question: question });
      } else {
        show({ type: "error", lang: L });
      }
    }

    // -- the conversation: every item is kept (sessionStorage) and drawn by show()

    function show(item, quiet) {
      var welcomeNode = log.querySelector(".welcome");
      if (welcomeNode) welcomeNode.remove();
      var node;
      if (item.type === "user") node = el("p", "msg user", { lang: htmlLang(item.lang) }, item.text);
      else if (item.type === "answer") node = answerNode(item.data);
      else if (item.type === "local") node = localEmergency(item.key, item.lang);
      else if (item.type === "error") node = errorNode(item.lang);
      else node = noteNode(item);
      addNode(node);
      if (item.type !== "note") { items.push(item); save(); }
      if (!quiet && item.type !== "user") scrollToStart(node);
      return node;
    }

    function answerNode(a) {
      var L = a.language === "zh" || a.language === "en" ? a.language : lang;
      var T = TEXT[L], emergency = a.kind === "emergency";
      var node = el("article", "msg bot kind-" + String(a.kind).replace(/[^a-z_]/g, ""), { lang: htmlLang(L) });
      if (emergency) emergencyHead(node, L);
      node.appendChild(el("span", "label", null, a.ai_label || T.label));
      if (a.resolved_question && a.resolved_question !== a.question) {
        node.appendChild(el("p", "resolved", null, T.resolved + a.resolved_question));
      }
      var cards = {}, citations = Array.isArray(a.citations) ? a.citations : [];
      var sources = citations.length ? sourceList(citations, L, cards) : null;  // first: [n] links need the cards
      node.appendChild(textBlocks(a.answer, function (n) { return cards[n]; }));
      if (a.kind !== "answer" && cfg.contact && a.answer.indexOf(cfg.contact) < 0) {
        node.appendChild(el("p", "contact", null, T.person.replace("{c}", cfg.contact)));
      }
      if (sources) node.appendChild(sources);
      if (a.reviewed) node.appendChild(el("p", "source-date", null, T.reviewed.replace("{d}", a.reviewed)));  // a reviewed answer
      node.appendChild(el("p", "disclaimer", null, a.disclaimer || ""));
      if (a.answer_id) node.appendChild(votes(a.answer_id, L, node));
      return node;
    }

    function emergencyHead(node, L) {
      node.setAttribute("role", "alert");
      var top = el("div", "alert-head");
      top.appendChild(el("span", "alert-icon", { "aria-hidden": "true" }, "⚠"));
      top.appendChild(el("strong", "alert-title", null, TEXT[L].emergency));
      node.appendChild(top);
      node.appendChild(callLink(L, "call big"));
    }

    function localEmergency(key, L) {
      var node = el("article", "msg bot kind-emergency local", { lang: htmlLang(L) });
      emergencyHead(node, L);
      node.appendChild(el("p", "offline", null, TEXT[L].offline));
      node.appendChild(textBlocks(replyText(key, L), function () { return null; }));
      if (cfg.contact) node.appendChild(el("p", "contact", null, TEXT[L].person.replace("{c}", cfg.contact)));
      return node;
    }

    function errorNode(L) {
      var node = el("article", "msg bot kind-error", { lang: htmlLang(L) });
      node.appendChild(textBlocks(replyText("error", L), function () { return null; }));
      node.appendChild(callLink(L, "call"));
      if (cfg.contact) node.appendChild(el("p", "contact", null, TEXT[L].person.replace("{c}", cfg.contact)));
      return node;
    }

    function noteNode(item) {
      var node = el("p", "msg note", { role: "status", lang: htmlLang(item.lang) }, item.text + " ");
      if (item.call) node.appendChild(callLink(item.lang, "call-inline"));
      return node;
    }

    function replyText(key, L) {
      var texts = (cfg.replies || {})[key] || (cfg.replies || {}).emergency || {};
      return texts[L] || TEXT[L].urgent + " " + cfg.number;
    }

    // The answer as paragraphs and lists; "[n]" becomes a link to source card n.
    function textBlocks(text, cardFor) {
      var wrap = el("div", "text"), list = null;
      // One cited sentence (or run of sentences) per paragraph: the direct answer stands first, alone.
      String(text || "").replace(/((?:\[\d+\])+)[ \t]*(?=\S)/g, "$1\n").split("\n").forEach(function (line) {
        line = line.trim();
        if (!line) { list = null; return; }
        var numbered = /^(\d+)[.、)]\s*/.exec(line), bullet = /^[·•\-*]\s*/.exec(line);
        if (numbered || bullet) {
          var tag = numbered ? "ol" : "ul";
          if (!list || list.tagName.toLowerCase() !== tag) { list = el(tag); wrap.appendChild(list); }
          var li = el("li");
          if (numbered) li.setAttribute("value", numbered[1]);
          inline(li, line.slice((numbered || bullet)[0].length), cardFor);
          list.appendChild(li);
        } else {
          list = null;
          var p = el("p");
          inline(p, line, cardFor);
          wrap.appendChild(p);
        }
      });
      return wrap;
    }

    function inline(parent, text, cardFor) {
      text.split(/(\[\d+\])/).forEach(function (part) {
        var m = /^\[(\d+)\]$/.exec(part);
        if (m && cardFor(m[1])) {
          var link = el("a", "cite", { href: "#" + cardFor(m[1]).id }, part);
          link.addEventListener("click", function (e) { e.preventDefault(); openCard(cardFor(m[1])); });
          parent.appendChild(link);
        } else if (part) {
          parent.appendChild(document.createTextNode(part));
        }
      });
    }

    function openCard(card) {
      var details = card.closest("details");
      if (details) details.open = true;
      card.focus();
      scrollToStart(card);
    }

    function sourceList(citations, L, cards) {
      var T = TEXT[L], uid = "t1d-src-" + Math.random().toString(36).slice(2, 8);
      var details = el("details", "sources");
      details.appendChild(el("summary", null, null, T.sources + " (" + citations.length + ")"));
      var list = el("ol", "source-list");
      citations.forEach(function (c) {
        var card = el("li", "source", { value: String(c.n), id: uid + "-" + c.n, tabindex: "-1" });
        card.appendChild(el("span", "source-title", null, "[" + c.n + "] " + (c.title || "")));
        var section = String(c.section || "").split(" > ").pop();
        if (section && section !== c.title) card.appendChild(el("span", "source-section", null, section));
        if (c.quote) card.appendChild(el("q", "source-quote", null, c.quote));
        var reviewed = c.reviewed || (cfg.reviewed || {})[c.doc_id];
        if (reviewed) card.appendChild(el("span", "source-date", null, T.reviewed.replace("{d}", reviewed)));
        if (c.as_of) card.appendChild(el("span", "source-date", null, T.asOf.replace("{d}", c.as_of)));
        if (c.source) card.appendChild(el("span", "source-ref", null, c.source));
        if (c.doc_id) {
          var href = base + "sources/" + encodeURIComponent(c.doc_id) + "#" + encodeURIComponent(anchor(c.section || ""));
          card.appendChild(el("a", "source-link", { href: href, target: "_blank", rel: "noopener" }, T.readSource));
        }
        cards[String(c.n)] = card;
        list.appendChild(card);
      });
      details.appendChild(list);
      return details;
    }

    function votes(answerId, L, message) {
      var T = TEXT[L], row = el("div", "votes"), chosen = null;
      [["up", "👍"], ["down", "👎"]].forEach(function (v) {
        var b = el("button", "vote", { type: "button", "aria-pressed": "false" });
        b.appendChild(el("span", null, { "aria-hidden": "true" }, v[1]));
        b.appendChild(el("span", "sr-only", null, T[v[0]]));
        b.addEventListener("click", function () {
          if (chosen) return;  // one vote; the buttons stay focusable so focus is never lost
          chosen = v[0];
          b.setAttribute("aria-pressed", "true");
          row.querySelectorAll("button").forEach(function (x) { x.setAttribute("aria-disabled", "true"); });
          var stored = post("api/feedback", { answer_id: answerId, vote: chosen, channel: pageMode ? "page" : "widget" });
          var status = row.querySelector(".thanks") || row.appendChild(el("span", "thanks", { role: "status" }));
          status.textContent = "";
          var form = commentForm(answerId, chosen, stored, L);
          message.appendChild(form);
          stored.then(function (reply) {  // never thanked unless stored; otherwise the buttons come back
            status.textContent = reply ? T.thanks : T.voteNotSaved;
            if (reply) return;
            chosen = null;
            form.remove();
            row.querySelectorAll("button").forEach(function (x) {
              x.setAttribute("aria-pressed", "false");
              x.removeAttribute("aria-disabled");
            });
          });
        });
        row.appendChild(b);
      });
      return row;
    }

    function commentForm(answerId, vote, stored, L) {
      var T = TEXT[L], f = el("form", "comment"), id = "t1d-c-" + answerId;
      f.appendChild(el("label", null, { for: id }, T.comment));
      var area = el("textarea", "comment-input", { id: id, rows: "2", maxlength: "1000" });
      var send = el("button", "comment-send", { type: "submit" }, T.commentSend);
      f.appendChild(area);
      f.appendChild(send);
      f.addEventListener("submit", function (e) {
        e.preventDefault();
        if (!area.value.trim()) return;
        stored.then(function (reply) {  // the comment joins the row the vote was stored in
          return reply && reply.id ? post("api/feedback", { answer_id: answerId, vote: vote, comment: area.value.trim(), row: reply.id }) : null;
        }).then(function (saved) {
          var done = el("p", "thanks", { role: "status", tabindex: "-1" }, saved ? T.commentThanks : T.notSaved);
          f.replaceWith(done);
          done.focus();
        });
      });
      return f;
    }

    function post(path, payload) {
      return fetch(base + path, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload)
      }).then(function (r) { return r.ok ? r.json() : null; }).catch(function () { return null; });
    }

    // -- scrolling: a new reply opens at its start, never at its end

    function addNode(node) { log.appendChild(node); return node; }

    function scrollToStart(node) {
      log.scrollTop += node.getBoundingClientRect().top - log.getBoundingClientRect().top - 8;
    }

    function scrollToLast() {
      var replies = log.querySelectorAll(".msg.bot");
      if (replies.length) scrollToStart(replies[replies.length - 1]);
    }

    // -- keeping the conversation across the clinic's pages (this tab only)

    function save() {
      try {
        sessionStorage.setItem(STORE_KEY, JSON.stringify({ history: history.slice(-MAX_TURNS * 2), items: items.slice(-MAX_SAVED) }));
      } catch (e) { /* storage off or full: the conversation is just not kept */ }
    }

    function restore() {
      var saved = null;
      try { saved = JSON.parse(sessionStorage.getItem(STORE_KEY) || "null"); } catch (e) { saved = null; }
      if (!saved || !Array.isArray(saved.items) || !saved.items.length) { log.appendChild(welcome()); return; }
      history = Array.isArray(saved.history) ? saved.history : [];
      saved.items.forEach(function (item) { if (item && item.type) show(item, true); });
      scrollToLast();
    }

    // -- the start-up check: is this site allowed to call the server?

    function checkOrigin() {
      if (new URL(base).origin === location.origin) return;
      fetch(base + "api/health", { cache: "no-store" }).catch(function () {
        // The CORS request failed; a no-cors one that succeeds means the server is up and refuses this origin.
        return fetch(base + "api/health", { mode: "no-cors", cache: "no-store" }).then(function () {
          originBlocked = true;
          console.warn("t1d-qa: " + location.origin + " is not in T1D_QA_ALLOWED_ORIGINS on " + base +
            "; every question will fail until it is added (see docs/web.md).");
          setup.textContent = TEXT[lang].blocked.replace("{o}", location.origin);
          setup.hidden = false;
        }, function () { /* the server is down: questions get the local texts */ });
      });
    }

    // -- small helpers

    function dangerKey(text) {
      var spaced = String(text).normalize ? text.normalize("NFKC").toLowerCase() : text.toLowerCase();
      spaced = spaced.replace(/[’‘]/g, "'").replace(/\s+/g, " ");
      var tight = spaced.replace(/ /g, "");
      var keys = Object.keys(cfg.danger || {});
      for (var i = 0; i < keys.length; i++) {
        var words = cfg.danger[keys[i]];
        var zh = (words.zh || []).some(function (w) { return tight.indexOf(w.toLowerCase().replace(/\s+/g, "")) >= 0; });
        var en = (words.en || []).some(function (w) { return spaced.indexOf(w.toLowerCase()) >= 0; });
        if (zh || en) return keys[i];
      }
      return null;
    }

    function languageOf(text) {
      var cjk = (text.match(/[\u3400-\u9fff]/g) || []).length;
      var latin = (text.match(/[A-Za-z]+/g) || []).length;
      return cjk && cjk >= latin ? "zh" : "en";
    }

    function anchor(section) { return String(section).split(" > ").pop().trim().replace(/\s+/g, "-"); }

    function callLink(L, cls) {
      var link = el("a", cls, { href: "tel:" + String(cfg.number).replace(/[^0-9+]/g, "") });
      link.appendChild(el("span", null, { "aria-hidden": "true" }, "📞 "));
      link.appendChild(document.createTextNode(TEXT[L].call.replace("{n}", cfg.number)));
      return link;
    }

    function updateCounter() {
      var n = input.value.length, max = cfg.max_chars;
      counter.hidden = n < max * 0.8;
      counter.textContent = n > max ? TEXT[lang].tooLong.replace("{n}", n).replace("{max}", max) : n + " / " + max;
      counter.classList.toggle("over", n > max);
    }

    function el(tag, cls, attrs, text) {
      var node = document.createElement(tag);
      if (cls) node.className = cls;
      Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
      if (text != null) node.textContent = String(text);  // text, never HTML
      return node;
    }

    function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

    function htmlLang(L) { return L === "zh" ? "zh-CN" : "en"; }

    function pickLanguage(wanted) {
      var remembered = null;
      try { remembered = localStorage.getItem("t1d-qa-lang"); } catch (e) { remembered = null; }
      if (remembered === "zh" || remembered === "en") return remembered;
      if (wanted === "zh" || wanted === "en") return wanted;
      var guess = ((pageMode ? "" : document.documentElement.lang) || navigator.language || "en").toLowerCase();
      return guess.indexOf("zh") === 0 ? "zh" : "en";
    }

    // Constructed style sheets pass a strict Content-Security-Policy (no inline <style>).
    function addStyles(target, text) {
      if (window.CSSStyleSheet && "adoptedStyleSheets" in Document.prototype) {
        var sheet = new CSSStyleSheet();
        sheet.replaceSync(text);
        target.adoptedStyleSheets = target.adoptedStyleSheets.concat([sheet]);
      } else {
        var style = document.createElement("style");
        style.textContent = text;
        (target === document ? document.head : target).appendChild(style);
      }
    }

    function css(side) {
      return [
        ":host { all: initial; }",
        "* { box-sizing: border-box; font-family: system-ui, -apple-system, 'Segoe UI', 'PingFang SC', 'Microsoft YaHei', 'Noto Sans CJK SC', sans-serif; }",
        ".sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }",
        ".bubble { position: fixed; bottom: 20px; " + side + ": 20px; z-index: 2147483000; display: flex; align-items: center; gap: 8px;",
        "  min-height: 48px; padding: 12px 18px; border: 0; border-radius: 999px; background: #0f766e; color: #fff; font-size: 16px; cursor: pointer; box-shadow: 0 4px 14px rgba(0,0,0,.25); }",
        "button:focus-visible, a:focus-visible, textarea:focus-visible, summary:focus-visible, .log:focus-visible, .source:focus { outline: 3px solid #b45309; outline-offset: 2px; }",
        ".input:focus-visible { outline: none; }",
        ".bubble-icon { font-weight: 700; }",
        ".panel { position: fixed; bottom: 84px; " + side + ": 20px; z-index: 2147483001; width: min(420px, calc(100vw - 24px));",
        "  height: min(680px, calc(100vh - 110px)); display: flex; flex-direction: column; background: #fff; color: #111827;",
        "  border-radius: 14px; box-shadow: 0 10px 40px rgba(0,0,0,.3); overflow: hidden; font-size: 16px; line-height: 1.55; }",
        ".panel.page { position: relative; bottom: auto; " + side + ": auto; width: 100%; height: 100%; border-radius: 0; box-shadow: none; }",
        ".panel[hidden] { display: none; }",
        ".head { display: flex; align-items: center; justify-content: space-between; gap: 8px; padding: 4px 6px 4px 14px; background: #0f766e; color: #fff; }",
        ".title { margin: 0; font-size: 17px; font-weight: 600; line-height: 1.3; }",
        ".tools { display: flex; flex-shrink: 0; }",
        ".tool { border: 0; background: transparent; color: #fff; font-size: 14px; cursor: pointer; min-width: 44px; min-height: 44px; padding: 0 8px; border-radius: 8px; }",
        ".tool:hover { background: rgba(255,255,255,.15); } .close { font-size: 26px; line-height: 1; }",
        ".notice { margin: 0; padding: 6px 14px; font-size: 14px; background: #fffbeb; border-bottom: 1px solid #fde68a; }",
        ".setup { margin: 0; padding: 6px 14px; font-size: 14px; background: #fee2e2; color: #7f1d1d; }",
        ".setup[hidden], .footer[hidden], .counter[hidden] { display: none; }",
        ".label { display: inline-block; padding: 0 6px; border-radius: 4px; background: #92400e; color: #fff; font-size: 13px; font-weight: 600; }",
        ".log { position: relative; flex: 1; overflow-y: auto; overscroll-behavior: contain; padding: 12px; display: flex; flex-direction: column; gap: 12px; }",
        ".welcome { background: #f0fdfa; border: 1px solid #99f6e4; border-radius: 12px; padding: 4px 14px; }",
        ".welcome p { margin: 8px 0; } .run-by { font-weight: 600; } .urgent { color: #7f1d1d; font-weight: 600; }",
        ".privacy, .person { font-size: 14px; color: #374151; } .examples-title { font-weight: 600; }",
        ".examples { list-style: none; margin: 0 0 8px; padding: 0; display: flex; flex-direction: column; gap: 6px; }",
        ".example { width: 100%; text-align: left; min-height: 44px; padding: 8px 12px; border: 1px solid #5eead4; border-radius: 10px; background: #fff; color: #134e4a; font-size: 15px; cursor: pointer; }",
        ".msg { margin: 0; padding: 10px 12px; border-radius: 12px; max-width: 94%; overflow-wrap: anywhere; }",
        ".user { align-self: flex-end; background: #ccfbf1; white-space: pre-wrap; }",
        ".pending { align-self: flex-start; color: #4b5563; }",
        ".note { align-self: flex-start; background: #fef3c7; }",
        ".bot { align-self: flex-start; background: #f3f4f6; }",
        ".text p { margin: 6px 0; } .text p:first-child:not(:only-child) { font-weight: 600; } .text ol, .text ul { margin: 6px 0; padding-left: 22px; } .text li { margin: 4px 0; }",
        ".kind-emergency .text p:first-child { font-weight: 700; }",
        ".cite { font-size: 13px; vertical-align: super; line-height: 1; color: #0f766e; padding: 0 1px; }",
        ".kind-emergency { background: #fef2f2; border: 3px solid #b91c1c; max-width: 100%; }",
        ".kind-error { background: #fef2f2; border: 1px solid #fca5a5; }",
        ".alert-head { display: flex; align-items: center; gap: 8px; color: #991b1b; font-size: 19px; margin-bottom: 6px; }",
        ".alert-icon { font-size: 24px; }",
        ".call { display: inline-flex; align-items: center; min-height: 44px; margin: 4px 0; padding: 8px 16px; border-radius: 10px; background: #b91c1c; color: #fff; font-weight: 700; text-decoration: none; }",
        ".call.big { display: flex; justify-content: center; font-size: 20px; margin: 4px 0 10px; }",
        ".call-inline { color: #991b1b; font-weight: 700; white-space: nowrap; display: inline-block; min-height: 24px; }",
        ".offline { font-weight: 600; }",
        ".sources { margin: 8px 0; } .sources summary { cursor: pointer; font-weight: 600; min-height: 44px; display: flex; align-items: center; color: #0f766e; }",
        ".source-list { margin: 4px 0; padding: 0; list-style: none; } .source { margin-bottom: 10px; padding: 2px 4px; border-radius: 6px; }",
        ".source span, .source q, .source a { display: block; } .source-title { font-weight: 600; } .source-quote { margin: 2px 0; }",
        ".source-section, .source-ref, .source-date { color: #4b5563; font-size: 13px; }",
        ".source-ref { display: -webkit-box !important; -webkit-line-clamp: 2; -webkit-box-orient: vertical; overflow: hidden; }",
        ".source-link { color: #0f766e; font-size: 14px; min-height: 44px; display: flex !important; align-items: center; }",
        ".resolved, .contact { margin: 4px 0 0; font-size: 14px; color: #374151; }",
        ".disclaimer { margin: 8px 0 0; font-size: 13px; color: #4b5563; }",
        ".votes { display: flex; gap: 8px; align-items: center; margin-top: 6px; }",
        ".vote { border: 1px solid #9ca3af; background: #fff; border-radius: 8px; min-width: 44px; min-height: 44px; cursor: pointer; font-size: 18px; }",
        ".vote[aria-pressed=true] { background: #ccfbf1; border-color: #0f766e; } .vote[aria-disabled=true] { cursor: default; }",
        ".thanks { font-size: 14px; color: #065f46; }",
        ".comment { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 8px; } .comment label { width: 100%; font-size: 14px; }",
        ".comment-input { flex: 1; min-width: 0; font-size: 16px; padding: 6px 8px; border: 1px solid #6b7280; border-radius: 8px; resize: vertical; }",
        ".comment-send { min-height: 44px; padding: 0 12px; border: 0; border-radius: 8px; background: #0f766e; color: #fff; font-size: 15px; cursor: pointer; }",
        ".form { padding: 8px 10px 6px; border-top: 1px solid #e5e7eb; background: #fff; }",
        ".box { display: flex; align-items: flex-end; gap: 6px; border: 1px solid #6b7280; border-radius: 12px; padding: 4px 4px 4px 10px; background: #fff; }",
        ".box:focus-within { border-color: #0f766e; box-shadow: 0 0 0 2px #99f6e4; }",
        ".input { flex: 1; resize: none; border: 0; outline: none; padding: 8px 0; font-size: 16px; line-height: 1.4; max-height: 8em; background: transparent; color: #111827; }",
        ".input::placeholder { color: #6b7280; }",
        ".send { flex-shrink: 0; width: 44px; height: 44px; border: 0; border-radius: 10px; background: #0f766e; color: #fff; font-size: 18px; cursor: pointer; }",
        ".send:disabled { background: #4b5563; cursor: wait; }",
        ".counter { margin: 4px 2px 0; font-size: 13px; color: #374151; text-align: right; } .counter.over { color: #991b1b; font-weight: 600; }",
        ".footer { margin: 0; padding: 2px 14px 8px; font-size: 13px; color: #374151; display: flex; flex-wrap: wrap; gap: 4px 14px; background: #fff; }",
        ".footer a, .welcome a:not(.call) { color: #0f766e; }",
        "@media (max-width: 480px) {",
        "  .panel:not(.page) { left: 0; right: 0; bottom: 0; width: 100vw; height: 100dvh; border-radius: 0; }",
        "  .bubble { bottom: 14px; " + side + ": 14px; }",
        "  .title { font-size: 16px; }",
        "}"
      ].join("\n");
    }
  }
})();
