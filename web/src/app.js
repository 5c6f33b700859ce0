// The crud-master web client: sign-in with the user pool (authorization code with PKCE), the
// catalogue and orders through the public API on this origin (docs/web.md). No dependency.

const $ = (id) => document.getElementById(id);
const session = window.sessionStorage;
const PAGE_SIZE = 10;
// Polling an order: 0.5 s doubling to 8 s, for at most 3 minutes (async request-reply).
const POLL_FIRST_MS = 500;
const POLL_MAX_MS = 8000;
const POLL_FOR_MS = 180000;

let config;
let user = null; // {name, groups, editor, admin}
let pageUrl = null; // the catalogue page shown
let nextUrl = null;
let searched = ""; // the title search the pages belong to

// ------------------------------------------------------------------ sign-in (OAuth 2.0 + PKCE)

const b64url = (bytes) =>
  btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const randomString = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));
const redirectUri = () => `${location.origin}/`;

function claims(jwt) {
  try {
    const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(part), (c) => c.charCodeAt(0))));
  } catch {
    return {};
  }
}

const tokens = {
  get: () => JSON.parse(session.getItem("tokens") || "null"),
  set: (t) => session.setItem("tokens", JSON.stringify(t)),
  clear: () => session.removeItem("tokens"),
};

async function signIn() {
  saveDrafts();
  const verifier = randomString(32);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  const state = randomString(16);
  session.setItem("pkce", JSON.stringify({ verifier, state }));
  const q = new URLSearchParams({
    response_type: "code",
    client_id: config.clientId,
    redirect_uri: redirectUri(),
    scope: config.scopes,
    state,
    code_challenge: b64url(new Uint8Array(digest)),
    code_challenge_method: "S256",
  });
  location.assign(`${config.authority}/oauth2/authorize?${q}`);
}

// Sign-out revokes the refresh token (and the access tokens it issued) before the managed
// login's session ends: a copied token is then worthless too.
async function signOut() {
  const t = tokens.get();
  tokens.clear();
  session.removeItem("drafts");
  session.removeItem("orders");
  if (t?.refresh_token) {
    await fetch(`${config.authority}/oauth2/revoke`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: t.refresh_token, client_id: config.clientId }),
    }).catch(() => {});
  }
  const q = new URLSearchParams({ client_id: config.clientId, logout_uri: redirectUri() });
  location.assign(`${config.authority}/logout?${q}`);
}

async function tokenRequest(params) {
  const resp = await fetch(`${config.authority}/oauth2/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: config.clientId, ...params }),
  });
  if (!resp.ok) return null;
  // Expiry is read from the access token's own `exp` (accessToken below), not kept beside it.
  return resp.json();
}

// Back from the managed login with ?code=…&state=… (or ?error=…): redeem the code with the
// verifier. Any failure forgets the old tokens (what was typed stays saved): the page then
// offers Sign in instead of sending the person back to the login at once.
async function finishSignIn(q) {
  if (!q.has("code") && !q.has("error")) return;
  const pkce = JSON.parse(session.getItem("pkce") || "null");
  session.removeItem("pkce");
  const failed = (why) => {
    tokens.clear();
    throw new Error(`Sign-in failed: ${why}. Sign in again.`);
  };
  // An error text is shown only as the answer to this tab's own request: anyone can link here
  // with ?error_description=… (Cognito's error redirect carries no state to check).
  if (!pkce) failed("this tab did not ask to sign in");
  if (q.has("error")) failed(q.get("error_description") || q.get("error"));
  if (q.get("state") !== pkce.state) failed("the answer does not match this tab's request (state)");
  const t = await tokenRequest({
    grant_type: "authorization_code",
    code: q.get("code"),
    redirect_uri: redirectUri(),
    code_verifier: pkce.verifier,
  });
  if (!t) failed("the sign-in code was refused");
  tokens.set({ ...t, signed_in_at: Date.now() });
}

// A valid access token: the stored one, a refreshed one, or none (sign in again). One refresh
// at a time: the pollers and a form may all find the token expired at once.
let refreshing = null;
async function accessToken({ force = false } = {}) {
  const t = tokens.get();
  if (!t) return null;
  const exp = (claims(t.access_token).exp || 0) * 1000;
  if (!force && exp - 30000 > Date.now()) return t.access_token;
  if (!t.refresh_token) return null;
  refreshing ||= tokenRequest({ grant_type: "refresh_token", refresh_token: t.refresh_token })
    .then((fresh) => {
      if (fresh) tokens.set({ ...t, ...fresh, refresh_token: fresh.refresh_token || t.refresh_token });
      return fresh?.access_token ?? null;
    })
    .finally(() => (refreshing = null));
  return refreshing;
}

function readUser() {
  const t = tokens.get();
  if (!t) return null;
  const c = { ...claims(t.access_token), ...claims(t.id_token || "") };
  let groups = c["cognito:groups"] || [];
  if (typeof groups === "string") groups = groups.replace(/^\[|\]$/g, "").split(/[ ,]+/).filter(Boolean);
  const admin = groups.includes("admin");
  return { name: c["cognito:username"] || c.username || c.sub, groups, admin, editor: admin || groups.includes("editors") };
}

// ------------------------------------------------------------------ drafts survive a sign-in

function saveDrafts() {
  const drafts = {};
  for (const form of document.querySelectorAll("form[data-draft]")) {
    const fields = Object.fromEntries(new FormData(form));
    if (Object.values(fields).some((v) => v !== "")) drafts[form.getAttribute("id")] = { fields, key: form.dataset.key || "" };
  }
  session.setItem("drafts", JSON.stringify(drafts));
}

function restoreDrafts() {
  const drafts = JSON.parse(session.getItem("drafts") || "{}");
  session.removeItem("drafts");
  for (const [id, { fields, key }] of Object.entries(drafts)) {
    const form = $(id);
    if (!form) continue;
    for (const [name, value] of Object.entries(fields)) if (form.elements[name]) form.elements[name].value = value;
    if (key) form.dataset.key = key;
    if (id === "movie" && fields.movie_id) setEditing(fields.movie_id);
  }
  return Object.keys(drafts).length > 0;
}

// ------------------------------------------------------------------ the API

class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || problem.message || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

class SignInNeeded extends Error {}

// A 401 this soon after a sign-in is not an expired session but a refusal (the API does not
// accept this pool's tokens): signing in again would only loop.
const LOOP_GUARD_MS = 60000;

// `interactive: false` (the order polls): never leave the page for the sign-in; the caller
// offers it.
async function api(method, path, { body, headers = {}, interactive = true } = {}) {
  const send = async (token) =>
    fetch(path, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  let token = await accessToken();
  let resp = token && (await send(token));
  // Expired or revoked: one refresh, then a new sign-in (what was typed is kept).
  if (!resp || resp.status === 401) {
    token = resp ? await accessToken({ force: true }) : null;
    resp = token && (await send(token));
    if (!resp || resp.status === 401) {
      const t = tokens.get();
      if (resp && t?.signed_in_at && Date.now() - t.signed_in_at < LOOP_GUARD_MS) {
        throw new ApiError(401, { detail: "the API refused a token it just issued (its issuer or audience may be misconfigured)" });
      }
      if (!interactive) throw new SignInNeeded("your session ended: sign in to keep following");
      await signIn();
      throw new SignInNeeded("signing in again");
    }
  }
  const text = await resp.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text };
  }
  if (!resp.ok) throw new ApiError(resp.status, data || {});
  return { data, resp };
}

function explain(err, what = "movies") {
  if (err instanceof SignInNeeded) return err.message;
  // The API's 403 says what the action needs; the page adds who is asking.
  if (err instanceof ApiError && err.status === 403) {
    return `Not allowed: ${err.message} (you are signed in as ${user.name}, groups: ${user.groups.join(", ") || "none"}).`;
  }
  if (err instanceof ApiError && err.status === 503 && what === "orders") {
    return `${err.message} — the order was not placed yet; Place order again is safe (the same order, never two).`;
  }
  if (err instanceof ApiError) return err.message;
  return `the request failed: ${err.message}`;
}

// ------------------------------------------------------------------ problems shown at their field

function clearErrors(form) {
  form.dataset.invalid = "";
  for (const p of form.querySelectorAll(".field-error, .form-error")) {
    p.hidden = true;
    p.textContent = "";
  }
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

// A 400's detail starts with the field it concerns ("title: must not be blank", openapi.yaml).
function showError(form, err) {
  const message = explain(err, form.getAttribute("id") === "order" ? "orders" : "movies");
  const field = /^([a-z_]+): /.exec(message);
  const input = field && form.elements[field[1]];
  if (input && input.type !== "hidden") {
    const p = $(`${form.getAttribute("id")}-${field[1]}-error`);
    p.textContent = message.slice(field[0].length);
    p.hidden = false;
    input.setAttribute("aria-invalid", "true");
    input.focus();
  } else {
    const p = $(`${form.getAttribute("id")}-error`);
    p.textContent = message;
    p.hidden = false;
  }
}

const status = (msg) => ($("status").textContent = msg);

function confirmDialog(text, okLabel) {
  const dialog = $("confirm");
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = okLabel;
  dialog.returnValue = "";
  dialog.showModal();
  $("confirm-cancel").focus();
  return new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true }));
}

// ------------------------------------------------------------------ the catalogue

function firstPageUrl() {
  const q = new URLSearchParams({ limit: PAGE_SIZE });
  if (searched) q.set("title", searched);
  return `${config.api}/movies?${q}`;
}

function search(title) {
  searched = title.trim();
  return loadMovies(firstPageUrl(), { announce: true });
}

function nextLink(resp) {
  const link = resp.headers.get("Link") || "";
  const m = /<([^>]+)>\s*;\s*rel="next"/.exec(link);
  if (!m) return null;
  // Its path and query on this origin only: the token never goes to another host.
  const next = new URL(m[1], location.origin);
  return next.pathname + next.search;
}

async function loadMovies(url = pageUrl || firstPageUrl(), { announce = false } = {}) {
  try {
    const { data, resp } = await api("GET", url);
    // A later page emptied by a delete: back to the first.
    if (data.length === 0 && url !== firstPageUrl()) return loadMovies(firstPageUrl(), { announce });
    pageUrl = url;
    nextUrl = nextLink(resp);
    renderMovies(data);
    if (announce) status($("movies-caption").textContent + ".");
  } catch (err) {
    status(explain(err));
  }
}

function button(label, onClick, className) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  if (className) b.className = className;
  b.addEventListener("click", onClick);
  return b;
}

function renderMovies(movies) {
  const body = $("movies").querySelector("tbody");
  body.replaceChildren();
  for (const m of movies) {
    const tr = document.createElement("tr");
    tr.dataset.id = m.id;
    const title = document.createElement("td");
    title.textContent = m.title;
    title.dataset.label = "Title";
    const description = document.createElement("td");
    description.textContent = m.description;
    description.dataset.label = "Description";
    const actions = document.createElement("td");
    actions.className = "actions";
    if (user.editor) {
      actions.append(
        button("Edit", () => editMovie(m), ""),
        button("Delete", () => deleteMovie(m), "danger"),
      );
      actions.querySelectorAll("button").forEach((b) => b.setAttribute("aria-label", `${b.textContent} ${m.title}`));
    }
    tr.append(title, description, actions);
    body.append(tr);
  }
  $("movies-caption").textContent =
    (movies.length ? `${movies.length} movie${movies.length === 1 ? "" : "s"}` : "No movies") +
    (searched ? ` matching “${searched}”` : "") +
    (nextUrl ? " (more on the next page)" : "");
  $("next-page").disabled = !nextUrl;
  $("first-page").disabled = pageUrl === firstPageUrl();
}

function setEditing(id) {
  const form = $("movie");
  form.elements.movie_id.value = id || "";
  $("movie-legend").textContent = id ? `Edit movie #${id}` : "Add a movie";
  $("movie-submit").textContent = id ? "Save changes" : "Add movie";
  $("movie-cancel").hidden = !id;
}

function editMovie(m) {
  const form = $("movie");
  clearErrors(form);
  setEditing(m.id);
  form.elements.title.value = m.title;
  form.elements.description.value = m.description;
  form.elements.title.focus();
}

async function deleteMovie(m) {
  if (!(await confirmDialog(`Delete “${m.title}”?`, "Delete"))) return;
  try {
    await api("DELETE", `${config.api}/movies/${m.id}`);
    status(`Deleted “${m.title}”.`);
    await loadMovies();
    $("movies-caption").focus();
  } catch (err) {
    status(explain(err));
  }
}

async function submitMovie(e) {
  e.preventDefault();
  const form = $("movie");
  clearErrors(form);
  const id = form.elements.movie_id.value;
  const body = { title: form.elements.title.value, description: form.elements.description.value };
  $("movie-submit").disabled = true;
  try {
    const { data } = id
      ? await api("PUT", `${config.api}/movies/${id}`, { body })
      : await api("POST", `${config.api}/movies`, { body });
    status(id ? `Saved “${data.title}”.` : `Added “${data.title}” (#${data.id}).`);
    form.reset();
    setEditing(null);
    await loadMovies(id ? pageUrl : firstPageUrl());
  } catch (err) {
    showError(form, err);
  } finally {
    $("movie-submit").disabled = false;
  }
}

async function deleteAll() {
  if (!(await confirmDialog("Delete every movie in the catalogue? This cannot be undone.", "Delete all"))) return;
  try {
    const { data } = await api("DELETE", `${config.api}/movies`);
    status(`Deleted ${data.deleted} movie${data.deleted === 1 ? "" : "s"}.`);
    await loadMovies(firstPageUrl());
  } catch (err) {
    status(explain(err));
  }
}

// ------------------------------------------------------------------ orders

async function submitOrder(e) {
  e.preventDefault();
  const form = $("order");
  clearErrors(form);
  // One key per order the person means to place: a double click or a retry of the same order
  // sends the same key, and the API stores one order (Idempotency-Key). A changed order (the
  // fields edited after a refusal) is another order: a new key, since the API keeps the first
  // body it saw for a key.
  const body = Object.fromEntries(new FormData(form));
  const sent = JSON.stringify(body);
  if (form.dataset.body !== sent) {
    form.dataset.key = crypto.randomUUID();
    form.dataset.body = sent;
  }
  try {
    const { data } = await api("POST", `${config.api}/billing`, { body, headers: { "Idempotency-Key": form.dataset.key } });
    delete form.dataset.key;
    delete form.dataset.body;
    form.reset();
    trackOrder(data.message_id);
  } catch (err) {
    showError(form, err);
  }
}

// The orders followed in this tab survive a sign-in (sessionStorage), and are followed again.
const followed = {
  get: () => JSON.parse(session.getItem("orders") || "[]"),
  add: (id) => session.setItem("orders", JSON.stringify([...new Set([...followed.get(), id])])),
};

function trackOrder(id) {
  followed.add(id);
  if (document.querySelector(`#orders li[data-id="${id}"]`)) return;
  const li = document.createElement("li");
  li.dataset.id = id;
  const label = document.createElement("span");
  label.textContent = `Order ${id}: `;
  const state = document.createElement("strong");
  state.tabIndex = -1;
  li.append(label, state);
  $("orders").prepend(li);
  poll(li, state, POLL_FIRST_MS, Date.now());
}

// Writes only a change, so that screen readers hear each state once.
const say = (el, text) => el.textContent !== text && (el.textContent = text);

async function poll(li, state, wait, since) {
  li.dataset.status = "queued";
  say(state, "queued");
  try {
    const { data } = await api("GET", `${config.api}/billing/orders/${li.dataset.id}`, { interactive: false });
    li.dataset.status = "stored";
    say(state, `stored (${data.number_of_items} items, ${data.total_amount})`);
    return;
  } catch (err) {
    if (err instanceof SignInNeeded) {
      say(state, `queued — ${err.message}`);
      li.append(button("Sign in", signIn));
      return;
    }
    if (!(err instanceof ApiError && err.status === 404)) {
      say(state, `queued — ${explain(err, "orders")}`);
    }
  }
  if (Date.now() - since > POLL_FOR_MS) {
    say(state, "queued: not stored yet (billing may be paused); it is kept and will be stored");
    const again = button("Check again", () => {
      again.remove();
      state.focus();
      poll(li, state, POLL_FIRST_MS, Date.now());
    });
    li.append(again);
    return;
  }
  setTimeout(() => poll(li, state, Math.min(wait * 2, POLL_MAX_MS), since), wait);
}

// ------------------------------------------------------------------ start

function showSignedIn() {
  $("who").textContent = `Signed in as ${user.name}` + (user.groups.length ? ` (${user.groups.join(", ")})` : " (reader)");
  $("sign-out").hidden = false;
  $("main").hidden = false;
  document.querySelector(".skip").hidden = false;
  $("movie").hidden = !user.editor;
  $("read-only").hidden = user.editor;
  $("delete-all").hidden = !user.admin;
  document.querySelector(".actions-h").hidden = !user.editor;
  document.body.classList.toggle("reader", !user.editor);
}

async function start() {
  // The code and state leave the address bar before anything is fetched.
  const callback = new URLSearchParams(location.search);
  if (callback.has("code") || callback.has("error")) history.replaceState(null, "", "/");
  config = await (await fetch("/config.json", { cache: "no-store" })).json();
  $("sign-in").addEventListener("click", signIn);
  $("sign-out").addEventListener("click", signOut);
  try {
    await finishSignIn(callback);
  } catch (err) {
    status(err.message);
  }
  user = readUser();
  if (!user) {
    $("who").textContent = "Not signed in.";
    $("sign-in").hidden = false;
    ready();
    return;
  }
  showSignedIn();
  if (restoreDrafts()) status("Signed in again: what you had typed is back; submit it when ready.");
  $("search").addEventListener("submit", (e) => { e.preventDefault(); search($("search-title").value); });
  $("search-clear").addEventListener("click", () => { $("search-title").value = ""; search(""); });
  $("next-page").addEventListener("click", () => nextUrl && loadMovies(nextUrl));
  $("first-page").addEventListener("click", () => loadMovies(firstPageUrl()));
  $("movie").addEventListener("submit", submitMovie);
  $("movie-cancel").addEventListener("click", () => {
    $("movie").reset();
    clearErrors($("movie"));
    setEditing(null);
    $("movie-title").focus();
  });
  $("delete-all").addEventListener("click", deleteAll);
  $("order").addEventListener("submit", submitOrder);
  for (const id of followed.get()) trackOrder(id);
  await loadMovies(firstPageUrl());
  ready();
}

// What the browser test waits for and measures: the page can be used (milliseconds since the
// navigation started).
function ready() {
  window.__usableAt = performance.now();
  document.body.dataset.ready = "true";
}

start().catch((err) => {
  status(`The page could not start: ${err.message}`);
  document.body.dataset.error = err.message;
});
