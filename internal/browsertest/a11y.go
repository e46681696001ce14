package browsertest

// A11yCheck is injected into each page: equivalent checks of what
// axe-core reports as serious (labels, headings, landmarks, names,
// contrast). It evaluates to the violations as strings; an empty list
// passes. The skip-link checks expect one Tab pressed on the fresh page,
// as CheckPage does.
const A11yCheck = `(() => {
  const out = [];
  const visible = el => { const s = getComputedStyle(el); const r = el.getBoundingClientRect();
    return s.display !== 'none' && s.visibility !== 'hidden' && r.width > 0 && r.height > 0; };
  const name = el => (el.getAttribute('aria-label') || el.textContent || el.getAttribute('title') || '').trim();
  const desc = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className ? '.' + String(el.className).split(' ')[0] : '');
  if (!document.documentElement.lang) out.push('html has no lang');
  if (!document.title.trim()) out.push('page has no title');
  // Landmarks.
  if (document.querySelectorAll('main').length !== 1) out.push('want exactly one main landmark');
  if (!document.querySelector('header')) out.push('no header (banner) landmark');
  if (!document.querySelector('nav')) out.push('no nav landmark');
  const skip = document.querySelector('a[href="#main"]');
  if (!skip || skip !== document.querySelector('a')) out.push('the first link is not a skip link to main');
  // The test pressed Tab once on the fresh page: the keyboard reaches the
  // skip link first, shows it, and outlines it.
  else if (document.activeElement !== skip) out.push('the first Tab does not reach the skip link');
  else {
    const r = skip.getBoundingClientRect();
    if (r.left < 0 || r.top < 0 || r.right > innerWidth) out.push('the focused skip link is off screen');
    if (getComputedStyle(skip).outlineStyle === 'none') out.push('no visible focus outline on the skip link');
  }
  // Labels of form fields.
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden') continue;
    const labelled = (el.labels && el.labels.length > 0 && [...el.labels].some(l => l.textContent.trim())) ||
      el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
    if (!labelled) out.push('form field without a label: ' + desc(el));
  }
  // Buttons and links have a name.
  for (const el of document.querySelectorAll('button, a[href]')) {
    if (!name(el)) out.push('no accessible name: ' + desc(el));
  }
  // Headings: one h1, first, and no level skipped going down.
  const hs = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')];
  if (hs.length === 0 || hs[0].tagName !== 'H1') out.push('the first heading is not h1');
  if (document.querySelectorAll('h1').length !== 1) out.push('want exactly one h1');
  for (let i = 1; i < hs.length; i++) {
    const prev = +hs[i-1].tagName[1], cur = +hs[i].tagName[1];
    if (cur > prev + 1) out.push('heading level skipped: ' + hs[i-1].tagName + ' then ' + hs[i].tagName + ' "' + hs[i].textContent.trim().slice(0, 40) + '"');
  }
  // Images and graphics have a text alternative.
  for (const el of document.querySelectorAll('img')) if (!el.hasAttribute('alt')) out.push('img without alt');
  for (const el of document.querySelectorAll('svg')) {
    if (el.getAttribute('aria-hidden') === 'true') continue;
    if (!el.querySelector('title') && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby')) out.push('svg without a title');
  }
  // Contrast of every visible text against its effective background.
  const parse = c => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null;
    const p = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const blend = (top, under) => { const a = top[3]; return [0,1,2].map(i => top[i]*a + under[i]*(1-a)).concat([1]); };
  const background = el => { const stack = [];
    for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor); if (c && c[3] > 0) { stack.push(c); if (c[3] >= 1) break; } }
    let bg = [255, 255, 255, 1]; for (let i = stack.length - 1; i >= 0; i--) bg = blend(stack[i], bg); return bg; };
  const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const seen = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || !el || seen.has(el) || !visible(el)) continue;
    seen.add(el);
    if (el.closest('[aria-hidden="true"]')) continue;
    const s = getComputedStyle(el);
    const bg = background(el), fg = blend(parse(s.color), bg);
    const l1 = lum(fg), l2 = lum(bg);
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const size = parseFloat(s.fontSize), bold = +s.fontWeight >= 700;
    const need = (size >= 24 || (bold && size >= 18.66)) ? 3 : 4.5;
    if (ratio < need) out.push('contrast ' + ratio.toFixed(2) + ' < ' + need + ': ' + desc(el) + ' "' + n.textContent.trim().slice(0, 30) + '"');
  }
  return out;
})()`
