// The page: sends a photo to /api/v1/explain and shows what each model makes of it. No framework, no build.
"use strict";
const $ = (id) => document.getElementById(id);
let answer = null; // the last explain answer
let scale = 1; // one colour scale for every occlusion map

function fail(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}

async function explain(blob, name) {
  $("error").hidden = true;
  const form = new FormData();
  form.append("file", blob, name);
  let response;
  try {
    response = await fetch("/api/v1/explain", { method: "POST", body: form });
  } catch (err) {
    return fail("The server cannot be reached: " + err.message);
  }
  const body = await response.json().catch(() => ({ error: "The server's answer is not JSON." }));
  if (!response.ok) return fail(body.error || "The server answered " + response.status + ".");
  answer = body;
  $("photo").src = URL.createObjectURL(blob);
  scale = Math.max(1e-6, ...Object.values(body.models).flatMap((m) => m.occlusion.flat().map(Math.abs)));
  $("dx").value = 0;
  $("dy").value = 0;
  for (const id of ["seen", "models", "shift"]) $(id).hidden = false;
  build();
  update();
}

function moved(picture, dy, dx) {
  // the picture shifted dy down and dx right, black coming in: looks.shift on the server
  return picture.map((row, y) => row.map((_, x) => {
    const sy = y - dy, sx = x - dx;
    return sy >= 0 && sy < 28 && sx >= 0 && sx < 28 ? picture[sy][sx] : 0;
  }));
}

function draw(canvas, picture, heat) {
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(28, 28);
  picture.forEach((row, y) => row.forEach((v, x) => {
    let [r, g, b] = [v, v, v];
    if (heat) { // red where covering lowers the class's probability, blue where it raises it
      const h = heat[y][x] / scale, a = Math.min(1, Math.abs(h)) * 0.85;
      const [cr, cg, cb] = h > 0 ? [192, 57, 43] : [46, 111, 186];
      [r, g, b] = [r * (1 - a) + cr * a, g * (1 - a) + cg * a, b * (1 - a) + cb * a];
    }
    img.data.set([r, g, b, 255], (y * 28 + x) * 4);
  }));
  ctx.putImageData(img, 0, 0);
}

function pct(p) { return (100 * p).toFixed(1) + " %"; }

function build() {
  const box = $("models");
  box.replaceChildren();
  for (const [name, m] of Object.entries(answer.models)) {
    const card = document.createElement("div");
    card.className = "model";
    card.dataset.model = name;
    const items = m.predictions.map((g) =>
      `<li data-class="${g.class}">${g.class} ${pct(g.probability)}<span class="bar" style="width:${Math.round(80 * g.probability)}px"></span></li>`);
    card.innerHTML = `<h2>${name.toUpperCase()}</h2><div class="maps"><figure><canvas width="28" height="28"></canvas>
      <figcaption>where it looks for ${m.predictions[0].class}</figcaption></figure><ol>${items.join("")}</ol></div>
      <p class="now"></p>`;
    draw(card.querySelector("canvas"), answer.picture, m.occlusion);
    box.append(card);
  }
}

function update() {
  const dx = Number($("dx").value), dy = Number($("dy").value), r = answer.reach;
  $("dxv").textContent = dx;
  $("dyv").textContent = dy;
  draw($("picture"), moved(answer.picture, dy, dx));
  const at = (dy + r) * (2 * r + 1) + (dx + r);
  for (const card of document.querySelectorAll(".model")) {
    const m = answer.models[card.dataset.model], now = m.shifted[at];
    const line = card.querySelector(".now");
    line.textContent = `shifted (${dx}, ${dy}): ${now.class} ${pct(now.probability)}`;
    line.dataset.class = now.class;
    line.classList.toggle("moved", now.class !== m.predictions[0].class);
  }
}

function nudge(id, by) {
  const input = $(id);
  input.value = Math.max(-4, Math.min(4, Number(input.value) + by));
  update();
}

$("file").addEventListener("change", () => { const f = $("file").files[0]; if (f) explain(f, f.name); });
for (const id of ["dx", "dy"]) $(id).addEventListener("input", update);
document.addEventListener("keydown", (e) => {
  if (!answer || e.target.tagName === "INPUT" && e.target.type !== "range") return;
  const keys = { ArrowLeft: ["dx", -1], ArrowRight: ["dx", 1], ArrowUp: ["dy", -1], ArrowDown: ["dy", 1] };
  if (keys[e.key]) { e.preventDefault(); nudge(...keys[e.key]); }
});
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  const f = e.dataTransfer.files[0];
  if (f) explain(f, f.name);
});
fetch("/static/examples/examples.json").then((r) => r.json()).then((names) => {
  for (const name of names) {
    const button = document.createElement("button");
    button.title = name;
    button.innerHTML = `<img src="/static/examples/${name}" alt="${name}">`;
    button.addEventListener("click", async () => explain(await (await fetch(`/static/examples/${name}`)).blob(), name));
    $("examples").append(button);
  }
});
