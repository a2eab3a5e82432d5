/**
 * The viewer's page: the HTML skeleton (header controls, the grid, the frame dialog) and its stylesheet.
 * Its behaviour is the page script, src/web/client/viewer.ts, built for the browser and loaded as a module
 * from /client/viewer.js. The stylesheet is served as /viewer.css rather than inlined so that the server's
 * Content-Security-Policy allows no inline style (nor inline script) at all; it stays a string here because
 * the TypeScript build copies no other files into dist/.
 */
export const VIEWER_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>nerveseg viewer</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/viewer.css">
<script type="module" src="/client/viewer.js"></script>
</head>
<body>
<header>
  <h1>nerveseg viewer</h1>
  <label>sort <select id="sort">
    <option value="dice">Dice</option><option value="id">id</option><option value="presence">presence</option>
    <option value="predArea">predicted area</option><option value="truthArea">true area</option>
  </select></label>
  <label>order <select id="order"><option value="asc">ascending</option><option value="desc">descending</option></select></label>
  <label>show <select id="filter">
    <option value="all">all frames</option><option value="target">frames with a target</option>
    <option value="fp">false positives</option><option value="fn">false negatives</option>
  </select></label>
  <label>per page <select id="limit"><option>12</option><option selected>24</option><option>48</option><option>96</option></select></label>
  <button id="prev">&larr; prev</button><span id="page"></span><button id="next">next &rarr;</button>
  <span class="legend"><span class="truth"></span>truth<span class="pred"></span>prediction</span>
  <span id="status" role="status" aria-live="polite"></span>
  <span id="summary"></span>
</header>
<main id="grid" aria-busy="false"></main>
<div id="modal" role="dialog" aria-modal="true" aria-labelledby="mtitle" tabindex="-1"><h2 id="mtitle"></h2><div class="row">
  <figure><img id="mover" alt="overlay"><div id="mstatus">loading…</div><figcaption>frame with truth (blue, outside its mask) and prediction (orange, inside)</figcaption></figure>
  <figure><img id="mheat" alt="probability heat-map"><figcaption id="mheatcap">probability heat-map (blue 0 → red 1), prediction outlined white</figcaption></figure>
</div><div class="hint">&larr; / &rarr; previous / next frame (across pages) &middot; Esc or click to close</div></div>
</body>
</html>
`;

export const VIEWER_CSS = `:root { --bg: #15171a; --panel: #1f2227; --text: #e4e6ea; --dim: #9aa0a8; --truth: #0072b2; --pred: #e69f00; --focus: #56b4e9; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--text); }
header { position: sticky; top: 0; z-index: 2; display: flex; flex-wrap: wrap; gap: 12px; align-items: center;
  padding: 10px 16px; background: var(--panel); border-bottom: 1px solid #333; }
header h1 { font-size: 16px; margin: 0 12px 0 0; }
header label { color: var(--dim); }
select, button { background: #2b2f36; color: var(--text); border: 1px solid #444; border-radius: 4px; padding: 4px 8px; }
button:disabled { opacity: 0.4; }
#summary { color: var(--dim); margin-left: auto; }
#status { color: var(--pred); min-width: 5em; }
.legend span { display: inline-block; width: 14px; height: 3px; margin: 0 4px 3px 8px; vertical-align: middle; }
.legend .truth { background: var(--truth); }
.legend .pred { background: var(--pred); }
main { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 12px; padding: 16px; transition: opacity 0.15s; }
main.busy { opacity: 0.35; }
.card { background: var(--panel); border-radius: 6px; overflow: hidden; cursor: pointer; border: 2px solid transparent; }
.card:hover { border-color: #666; }
.card:focus-visible, .card:focus { outline: none; border-color: var(--focus); }
.card img { width: 100%; aspect-ratio: 4 / 3; object-fit: contain; display: block; background: #000; }
.meta { display: flex; justify-content: space-between; padding: 6px 8px; gap: 8px; }
.id { font-weight: 600; }
.num { color: var(--dim); font-size: 12px; font-variant-numeric: tabular-nums; }
.dice { font-weight: 600; font-variant-numeric: tabular-nums; white-space: nowrap; }
.empty { padding: 24px; color: var(--dim); }
#modal { display: none; position: fixed; inset: 0; z-index: 5; background: rgba(0,0,0,0.85); padding: 24px; overflow: auto; }
#modal.open { display: block; }
#modal:focus { outline: none; }
#modal .row { display: flex; flex-wrap: wrap; gap: 16px; justify-content: center; }
#modal figure { margin: 0; position: relative; }
#modal img { max-width: min(46vw, 870px); width: 100%; image-rendering: auto; border-radius: 4px; transition: opacity 0.1s; }
#modal.loading img { opacity: 0.25; }
#mstatus { position: absolute; inset: 0; display: none; align-items: center; justify-content: center; color: var(--text); font-size: 18px; }
#modal.loading #mstatus { display: flex; }
#modal figcaption { color: var(--dim); text-align: center; margin-top: 4px; }
#modal h2 { text-align: center; margin: 0 0 12px; font-size: 18px; }
#modal .hint { text-align: center; color: var(--dim); margin-top: 12px; }
`;
