// Hookcast dashboard: plain browser JavaScript, no framework, no CDN. Served by Hookcast at
// /dashboard under a strict Content-Security-Policy (nothing inline). Every piece of data
// reaches the page through textContent / attributes, never through innerHTML.
"use strict";

(() => {
  const KEY_STORAGE = "hookcast.apiKey";
  /** Events kept in the feed: older ones are dropped and their DOM nodes reused. */
  const MAX_EVENTS = 200;
  const HOOKS_REFRESH_MS = 4_000;
  const INSPECTOR_REFRESH_MS = 1_500;
  const POLL_MS = 2_000;
  const LIVE_RETRY_MS = 30_000;

  const EVENT_FIELDS = "id cursor type source sequence occurredAt data";
  const HOOK_FIELDS = "id name url status verificationError disabledReason stats { delivered failed pending dead lastError lastDeliveredAt lastFailureAt consecutiveFailures }";
  const DELIVERY_ROW_FIELDS = "id status attemptCount lastStatusCode lastError nextAttemptAt deliveredAt createdAt event { id type sequence }";
  const DELIVERY_FIELDS = `${DELIVERY_ROW_FIELDS} requestBody hook { id url } attempts { attemptNumber startedAt durationMs statusCode error responseExcerpt }`;

  const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

  /** Creates an element; text goes through textContent only. */
  function el(tag, { className, text, attrs, title } = {}, children = []) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (title) node.title = String(title);
    if (attrs) for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
    for (const child of children) node.append(child);
    return node;
  }

  const state = {
    key: null,
    client: null,
    unsubscribe: null,
    pollTimer: null,
    liveRetryTimer: null,
    feedPayload: null,
    hooksTimer: null,
    inspectorTimer: null,
    hooks: [],
    inspectHook: null,
    selectedDelivery: null,
    feedPaused: false,
    pending: [],
    scheduled: false,
    total: 0,
    arrivals: [],
    cursor: null,
    events: new WeakMap(),
    toastTimer: null,
  };

  // ---- GraphQL over HTTP --------------------------------------------------------------------

  class GqlError extends Error {
    constructor(message, code) {
      super(message);
      this.code = code;
    }
  }

  async function gql(query, variables = {}) {
    const res = await fetch("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${state.key}` },
      body: JSON.stringify({ query, variables }),
      credentials: "omit",
      cache: "no-store",
    });
    let body;
    try {
      body = await res.json();
    } catch {
      throw new GqlError(`HTTP ${res.status}`, "HTTP");
    }
    if (body.errors && body.errors.length) {
      const first = body.errors[0];
      if (first.extensions && first.extensions.code === "UNAUTHENTICATED") signOut("Your API key was refused.");
      throw new GqlError(first.message, first.extensions && first.extensions.code);
    }
    return body.data;
  }

  function toast(message, kind = "info") {
    const t = $("toast");
    t.textContent = message;
    t.dataset.kind = kind;
    t.hidden = false;
    clearTimeout(state.toastTimer);
    state.toastTimer = setTimeout(() => (t.hidden = true), 5_000);
  }

  $("toast").addEventListener("click", () => {
    clearTimeout(state.toastTimer);
    $("toast").hidden = true;
  });

  const fail = (what) => (error) => toast(`${what}: ${error.message}`, "error");

  // ---- Sign in / out ------------------------------------------------------------------------

  async function signIn(key) {
    state.key = key;
    const data = await gql("{ me { id name } }");
    sessionStorage.setItem(KEY_STORAGE, key);
    $("account").textContent = `${data.me.name} · ${data.me.id}`;
    $("sign-in").hidden = true;
    $("app").hidden = false;
    $("sign-out").hidden = false;
    startFeed();
    refreshHooks();
    state.hooksTimer = setInterval(refreshHooks, HOOKS_REFRESH_MS);
  }

  function signOut(message) {
    sessionStorage.removeItem(KEY_STORAGE);
    state.key = null;
    stopFeed();
    clearInterval(state.hooksTimer);
    closeInspector();
    $("app").hidden = true;
    $("sign-out").hidden = true;
    $("sign-in").hidden = false;
    $("account").textContent = "";
    $("sign-in-error").textContent = message || "";
    $("event-feed").replaceChildren();
    $("event-detail").hidden = true;
    state.total = 0;
    state.arrivals = [];
    state.cursor = null;
    setFeedStatus("off", "offline");
  }

  $("sign-in-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = /** @type {HTMLInputElement} */ ($("api-key"));
    const key = input.value.trim();
    $("sign-in-error").textContent = "";
    signIn(key).then(
      () => (input.value = ""),
      (error) => {
        state.key = null;
        $("sign-in-error").textContent = error.code === "UNAUTHENTICATED" ? "This API key is not valid." : `Sign-in failed: ${error.message}`;
      },
    );
  });
  $("sign-out").addEventListener("click", () => signOut());

  // ---- Live feed ----------------------------------------------------------------------------

  function setFeedStatus(kind, text) {
    const pill = $("feed-status");
    pill.dataset.state = kind;
    pill.textContent = text;
  }

  function startFeed() {
    stopFeed();
    setFeedStatus("connecting", "connecting…");
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
    const client = globalThis.graphqlWs.createClient({
      url,
      connectionParams: () => ({ apiKey: state.key }),
      // A few quick retries; a server without a live stream (or a proxy that drops WebSocket)
      // then gets the polling fallback below.
      retryAttempts: 4,
      retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, Math.min(8_000, 500 * 2 ** retries))),
      shouldRetry: (event) => !(event && event.code === 4403),
      on: {
        connected: () => setFeedStatus("live", "live"),
        closed: (event) => {
          if (state.client !== client) return;
          if (event && event.code === 4403) signOut("Your API key was refused.");
          else if (!state.pollTimer) setFeedStatus("connecting", "reconnecting…");
        },
      },
    });
    state.client = client;
    // graphql-ws sends this payload again on every reconnect: `after` follows the last event
    // received, so a reconnect resumes the stream with no gap and no duplicate.
    state.feedPayload = { query: `subscription($after: String) { events(after: $after) { ${EVENT_FIELDS} } }`, variables: { after: state.cursor } };
    state.unsubscribe = client.subscribe(
      state.feedPayload,
      {
        next: (result) => {
          if (result.data && result.data.events) enqueue(result.data.events);
        },
        // The server has no live stream (or refused it): fall back to polling the events query.
        error: () => {
          if (state.client === client) startPolling();
        },
        complete: () => {},
      },
    );
  }

  function stopFeed() {
    if (state.unsubscribe) state.unsubscribe();
    if (state.client) state.client.dispose();
    state.unsubscribe = null;
    state.client = null;
    state.feedPayload = null;
    clearTimeout(state.pollTimer);
    state.pollTimer = null;
    clearTimeout(state.liveRetryTimer);
    state.liveRetryTimer = null;
  }

  /** Polling fallback (no live stream): asks for what came after the last event seen. */
  async function startPolling() {
    stopFeed();
    setFeedStatus("polling", "polling");
    const page = (after) =>
      gql(`query($after: String) { events(after: $after, first: 100) { edges { node { ${EVENT_FIELDS} } } pageInfo { hasNextPage endCursor } } }`, { after }).then((d) => d.events);
    // A fresh feed starts at the end of the log; one that was live goes on after its last event.
    if (state.cursor === null) {
      try {
        let p = await page(null);
        while (p.pageInfo.hasNextPage) p = await page(p.pageInfo.endCursor);
        state.cursor = p.pageInfo.endCursor || null;
      } catch {
        if (!state.key) return;
      }
    }
    const tick = async () => {
      if (!state.key) return;
      try {
        let p;
        do {
          p = await page(state.cursor);
          for (const edge of p.edges) enqueue(edge.node);
          if (p.pageInfo.endCursor) state.cursor = p.pageInfo.endCursor;
        } while (p.pageInfo.hasNextPage);
      } catch {
        setFeedStatus("error", "feed error");
      }
      if (state.key) state.pollTimer = setTimeout(tick, POLL_MS);
    };
    state.pollTimer = setTimeout(tick, 0);
    // Try the live stream again now and then; it resumes after the last polled event.
    state.liveRetryTimer = setTimeout(() => state.key && startFeed(), LIVE_RETRY_MS);
  }

  /**
   * Events are queued and drawn once per animation frame. Only the newest MAX_EVENTS of a burst
   * are drawn: anything older would be recycled in the same frame anyway.
   */
  function enqueue(event) {
    state.total++;
    state.arrivals.push(Date.now());
    if (event.cursor) {
      state.cursor = event.cursor;
      if (state.feedPayload) state.feedPayload.variables.after = event.cursor;
    }
    state.pending.push(event);
    if (state.pending.length > MAX_EVENTS) state.pending.splice(0, state.pending.length - MAX_EVENTS);
    if (!state.scheduled) {
      state.scheduled = true;
      requestAnimationFrame(drawFeed);
    }
  }

  function summary(event) {
    const d = event.data || {};
    if (d.email) return d.email;
    if (d.hook && d.hook.url) return d.hook.url;
    if (d.name) return d.name;
    return d.id || "";
  }

  function newEventNode() {
    return el("li", { attrs: { tabindex: "0" } }, [
      el("span", { className: "ev-time" }),
      el("span", { className: "ev-type" }),
      el("span", { className: "ev-source muted" }),
      el("span", { className: "ev-seq" }),
      el("span", { className: "ev-summary" }),
    ]);
  }

  function fillEventNode(node, event) {
    const [time, type, source, seq, text] = node.children;
    time.textContent = new Date(event.occurredAt).toLocaleTimeString();
    type.textContent = event.type;
    source.textContent = event.source;
    seq.textContent = `#${event.sequence}`;
    text.textContent = summary(event);
    node.dataset.type = event.type;
    node.dataset.eventId = event.id;
    node.classList.remove("selected");
    state.events.set(node, event);
  }

  function drawFeed() {
    state.scheduled = false;
    const now = Date.now();
    while (state.arrivals.length && state.arrivals[0] < now - 60_000) state.arrivals.shift();
    $("event-total").textContent = String(state.total);
    $("event-rate").textContent = String(state.arrivals.length);
    if (state.feedPaused) return;
    const feed = $("event-feed");
    const batch = state.pending;
    state.pending = [];
    for (const event of batch) {
      // Reuse the oldest node once the list is full: the DOM never grows past MAX_EVENTS.
      const node = feed.childElementCount < MAX_EVENTS ? newEventNode() : feed.lastElementChild;
      fillEventNode(node, event);
      feed.insertBefore(node, feed.firstElementChild);
    }
  }

  $("event-cap").textContent = String(MAX_EVENTS);
  $("event-feed").addEventListener("click", (e) => {
    const node = e.target instanceof Element ? e.target.closest("li") : null;
    const event = node && state.events.get(node);
    if (!event) return;
    for (const li of $("event-feed").querySelectorAll("li.selected")) li.classList.remove("selected");
    node.classList.add("selected");
    const detail = $("event-detail");
    detail.textContent = JSON.stringify({ id: event.id, type: event.type, source: event.source, sequence: event.sequence, occurredAt: event.occurredAt, data: event.data }, null, 2);
    detail.hidden = false;
  });
  $("feed-pause").addEventListener("click", () => {
    state.feedPaused = !state.feedPaused;
    $("feed-pause").textContent = state.feedPaused ? "Resume" : "Pause";
    if (!state.feedPaused) requestAnimationFrame(drawFeed);
  });

  // ---- Hooks --------------------------------------------------------------------------------

  function successRate(stats) {
    const settled = stats.delivered + stats.failed + stats.dead;
    return settled === 0 ? "–" : `${((100 * stats.delivered) / settled).toFixed(1)}%`;
  }

  function actionButton(label, action, hook, className) {
    return el("button", { text: label, className: className || "ghost", attrs: { type: "button", "data-action": action, "data-hook-id": hook.id } });
  }

  function hookRow(hook) {
    const s = hook.stats;
    const actions = [];
    if (hook.status === "ACTIVE") actions.push(actionButton("Pause", "pause", hook));
    if (hook.status === "PAUSED" || hook.status === "DISABLED") actions.push(actionButton("Resume", "resume", hook));
    if (hook.status !== "PENDING_VERIFICATION") actions.push(actionButton("Ping", "ping", hook));
    actions.push(actionButton("Rotate secret", "rotate", hook), actionButton("Deliveries", "inspect", hook, ""), actionButton("Delete", "delete", hook, "danger"));
    const error = hook.disabledReason || hook.verificationError || s.lastError || "";
    // The last error stays on the hook after it recovers: shown muted once deliveries succeed again.
    const recovered = !hook.disabledReason && !hook.verificationError && s.consecutiveFailures === 0;
    return el("tr", { attrs: { "data-hook-id": hook.id } }, [
      el("td", {}, [el("div", { className: "hook-name", text: hook.name || hook.id }), el("div", { className: "hook-url", text: hook.url })]),
      el("td", {}, [el("span", { className: "badge", text: hook.status, attrs: { "data-status": hook.status } })]),
      el("td", { className: "success", text: successRate(s), title: `${s.delivered} delivered, ${s.failed} failing, ${s.dead} dead` }),
      el("td", { className: "pending", text: s.pending }),
      el("td", {}, [el("div", { className: recovered ? "last-error recovered" : "last-error", text: error, title: recovered && error ? `${error} (since recovered)` : error })]),
      el("td", {}, [el("div", { className: "actions" }, actions)]),
    ]);
  }

  async function refreshHooks() {
    if (!state.key) return;
    try {
      const data = await gql(`{ hooks { ${HOOK_FIELDS} } }`);
      state.hooks = data.hooks;
      $("hook-rows").replaceChildren(...data.hooks.map(hookRow));
      $("hooks-empty").hidden = data.hooks.length > 0;
      $("hooks-updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
      if (state.inspectHook) {
        const current = data.hooks.find((h) => h.id === state.inspectHook.id);
        if (current) state.inspectHook = current;
      }
    } catch (error) {
      if (state.key) $("hooks-updated").textContent = `refresh failed: ${error.message}`;
    }
  }

  const HOOK_ACTIONS = {
    pause: (id) => gql("mutation($id: ID!) { pauseHook(id: $id) { id status } }", { id }).then(() => toast("Hook paused")),
    resume: (id) => gql("mutation($id: ID!) { resumeHook(id: $id) { id status } }", { id }).then(() => toast("Hook resumed")),
    ping: (id) => gql("mutation($id: ID!) { pingHook(id: $id) { id } }", { id }).then((d) => toast(`Ping queued: ${d.pingHook.id}`)),
    rotate: async (id) => {
      if (!confirm("Rotate this hook's signing secret? The old one keeps signing for 24 hours.")) return;
      const d = await gql("mutation($id: ID!) { rotateHookSecret(id: $id) { secret hook { id } } }", { id });
      showSecret(d.rotateHookSecret.secret);
    },
    delete: async (id) => {
      if (!confirm("Delete this hook? Its queued deliveries are cancelled.")) return;
      await gql("mutation($id: ID!) { deleteHook(id: $id) }", { id });
      if (state.inspectHook && state.inspectHook.id === id) closeInspector();
      toast("Hook deleted");
    },
    inspect: async (id) => openInspector(state.hooks.find((h) => h.id === id)),
  };

  $("hook-rows").addEventListener("click", (e) => {
    const button = e.target instanceof Element ? e.target.closest("button[data-action]") : null;
    if (!button) return;
    const run = HOOK_ACTIONS[button.getAttribute("data-action")];
    if (!run) return;
    button.disabled = true;
    Promise.resolve(run(button.getAttribute("data-hook-id")))
      .catch(fail(button.textContent))
      .finally(() => {
        button.disabled = false;
        refreshHooks();
      });
  });
  $("hooks-refresh").addEventListener("click", () => refreshHooks());

  function showSecret(secret) {
    const dialog = /** @type {HTMLDialogElement} */ ($("secret-dialog"));
    const input = /** @type {HTMLInputElement} */ ($("secret-value"));
    input.value = secret;
    dialog.showModal();
    input.select();
  }
  $("secret-copy").addEventListener("click", () => {
    const input = /** @type {HTMLInputElement} */ ($("secret-value"));
    navigator.clipboard.writeText(input.value).then(
      () => toast("Secret copied"),
      () => {
        input.select();
        toast("Select the secret and copy it", "error");
      },
    );
  });
  $("secret-close").addEventListener("click", () => {
    // The secret is not kept anywhere once the dialog closes.
    /** @type {HTMLInputElement} */ ($("secret-value")).value = "";
    /** @type {HTMLDialogElement} */ ($("secret-dialog")).close();
  });

  // ---- Delivery inspector -------------------------------------------------------------------

  function openInspector(hook) {
    if (!hook) return;
    state.inspectHook = hook;
    state.selectedDelivery = null;
    $("inspector-hook").textContent = hook.name || hook.id;
    $("inspector").hidden = false;
    $("delivery-detail").hidden = true;
    refreshInspector();
    clearInterval(state.inspectorTimer);
    state.inspectorTimer = setInterval(refreshInspector, INSPECTOR_REFRESH_MS);
    $("inspector").scrollIntoView({ block: "nearest" });
  }

  function closeInspector() {
    clearInterval(state.inspectorTimer);
    state.inspectorTimer = null;
    state.inspectHook = null;
    state.selectedDelivery = null;
    $("inspector").hidden = true;
  }

  const when = (iso) => (iso ? new Date(iso).toLocaleTimeString() : "");

  function deliveryRow(d) {
    const last = d.lastStatusCode ? `HTTP ${d.lastStatusCode}` : d.lastError || "";
    const row = el("tr", { className: "selectable", attrs: { "data-delivery-id": d.id, "data-status": d.status } }, [
      el("td", { className: "mono", text: when(d.createdAt) }),
      el("td", { text: `${d.event.type} #${d.event.sequence}` }),
      el("td", {}, [el("span", { className: "badge", text: d.status, attrs: { "data-status": d.status } })]),
      el("td", { text: d.attemptCount }),
      el("td", { text: last, title: d.lastError || "" }),
    ]);
    if (state.selectedDelivery === d.id) row.classList.add("selected");
    return row;
  }

  async function refreshInspector() {
    const hook = state.inspectHook;
    if (!hook || !state.key) return;
    const status = /** @type {HTMLSelectElement} */ ($("inspector-status")).value || null;
    try {
      const data = await gql(`query($hookId: ID!, $status: DeliveryStatus) { deliveries(hookId: $hookId, status: $status, first: 50) { edges { node { ${DELIVERY_ROW_FIELDS} } } } }`, {
        hookId: hook.id,
        status,
      });
      if (state.inspectHook !== hook) return;
      $("delivery-rows").replaceChildren(...data.deliveries.edges.map((e) => deliveryRow(e.node)));
      if (state.selectedDelivery) await showDelivery(state.selectedDelivery);
    } catch (error) {
      if (state.key) toast(`Deliveries: ${error.message}`, "error");
    }
  }

  function kv(list, pairs) {
    list.replaceChildren(...pairs.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
  }

  async function showDelivery(id) {
    const data = await gql(`query($id: ID!) { delivery(id: $id) { ${DELIVERY_FIELDS} } }`, { id });
    const d = data.delivery;
    if (state.selectedDelivery !== id) return;
    $("delivery-detail").hidden = false;
    $("delivery-detail").dataset.deliveryId = d.id;
    $("delivery-title").textContent = `${d.event.type} → ${d.id}`;
    const badge = $("delivery-status");
    badge.textContent = d.status;
    badge.dataset.status = d.status;
    /** @type {HTMLButtonElement} */ ($("redeliver")).disabled = d.status === "DELIVERING" || d.status === "PENDING";
    const lastAttempt = d.attempts[d.attempts.length - 1];
    kv($("delivery-request"), [
      ["POST", d.hook.url],
      ["content-type", "application/json"],
      ["webhook-id", d.id],
      ["webhook-timestamp", lastAttempt ? String(Math.floor(new Date(lastAttempt.startedAt).getTime() / 1000)) : "set when sent"],
      ["webhook-signature", "v1,… (computed per attempt with the hook's secret; not stored)"],
      ["next attempt", d.nextAttemptAt ? new Date(d.nextAttemptAt).toLocaleString() : "–"],
    ]);
    let body = d.requestBody;
    try {
      body = JSON.stringify(JSON.parse(d.requestBody), null, 2);
    } catch {
      // shown as sent
    }
    $("delivery-body").textContent = body;
    $("attempt-rows").replaceChildren(
      ...d.attempts.map((a) =>
        el("tr", { attrs: { "data-attempt": a.attemptNumber } }, [
          el("td", { text: a.attemptNumber }),
          el("td", { className: "mono", text: new Date(a.startedAt).toLocaleTimeString() }),
          el("td", { text: a.statusCode ? `HTTP ${a.statusCode}` : a.error || "no response", title: a.error || "" }),
          el("td", { className: "duration", text: `${a.durationMs} ms` }),
          el("td", {}, [el("pre", { className: "excerpt", text: a.responseExcerpt || (a.error ? a.error : "") })]),
        ]),
      ),
    );
  }

  $("delivery-rows").addEventListener("click", (e) => {
    const row = e.target instanceof Element ? e.target.closest("tr[data-delivery-id]") : null;
    if (!row) return;
    state.selectedDelivery = row.getAttribute("data-delivery-id");
    for (const r of $("delivery-rows").querySelectorAll("tr.selected")) r.classList.remove("selected");
    row.classList.add("selected");
    showDelivery(state.selectedDelivery).catch(fail("Delivery"));
  });
  $("redeliver").addEventListener("click", () => {
    const id = state.selectedDelivery;
    if (!id) return;
    const button = /** @type {HTMLButtonElement} */ ($("redeliver"));
    button.disabled = true;
    gql("mutation($id: ID!) { redeliver(deliveryId: $id) { id status } }", { id })
      .then(() => toast(`Redelivery queued: ${id}`))
      .catch(fail("Redeliver"))
      .finally(() => refreshInspector());
  });
  $("inspector-status").addEventListener("change", () => refreshInspector());
  $("inspector-close").addEventListener("click", closeInspector);

  // ---- Start --------------------------------------------------------------------------------

  const saved = sessionStorage.getItem(KEY_STORAGE);
  if (saved) {
    signIn(saved).catch(() => signOut("Sign in again."));
  } else {
    signOut();
  }
})();
