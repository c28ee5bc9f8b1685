/**
 * Markdown read as GitHub renders it, as far as the docs' checks need: fenced code blocks with their info strings,
 * the prose around them with its code spans taken out, the links in that prose, and the anchors of its headings.
 */

export interface FencedBlock {
  /** The info string's words: `sh azure` is `['sh', 'azure']`. */
  info: string[];
  code: string;
  /** The line of the opening fence, 1-based. */
  line: number;
}

export interface Link {
  /** As written: a relative path with an optional `#anchor`, an anchor alone, or a URL. */
  target: string;
  line: number;
}

export interface MarkdownDocument {
  blocks: FencedBlock[];
  links: Link[];
  /** The anchors GitHub gives its headings. */
  anchors: Set<string>;
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*(.*)$/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;

/** GitHub's heading anchors (github-slugger): lower case, punctuation and symbols dropped, spaces as hyphens. */
export function headingAnchor(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`/g, '')
    .replace(/\*+/g, '');
  return text.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
}

/**
 * Code spans, which hold no links, blanked out: a run of backticks up to the next run of the same length, across the
 * lines of one paragraph (never past a blank line).
 */
const withoutCodeSpans = (text: string) =>
  text
    .split(/(\n[ \t]*\n)/)
    .map((paragraph) => paragraph.replace(/(`+)(?!`)[\s\S]*?(?<!`)\1(?!`)/g, (span) => span.replace(/[^\n]/g, ' ')))
    .join('');

/** `[text](target)` and `![alt](target)`, with an optional title; `<https://…>`; and bare URLs, which GitHub links too. */
const INLINE_LINK = /!?\[(?:[^[\]]|\[[^\]]*\])*\]\(\s*<?([^\s)>]+)>?(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g;
const AUTOLINK = /<(https?:\/\/[^\s>]+)>/g;
const BARE_URL = /\bhttps?:\/\/[^\s<>()[\]]+/g;

function linksIn(prose: string, firstLine: number): Link[] {
  const links: Link[] = [];
  const lineOf = (index: number) => firstLine + prose.slice(0, index).split('\n').length - 1;
  let rest = prose;
  for (const pattern of [INLINE_LINK, AUTOLINK]) {
    rest = rest.replace(pattern, (whole, target: string, offset: number) => {
      links.push({ target, line: lineOf(offset) });
      return ' '.repeat(whole.length);
    });
  }
  for (const match of rest.matchAll(BARE_URL)) {
    // As GitHub's autolinks end: trailing punctuation is the sentence's.
    links.push({ target: match[0].replace(/[.,:;!?*_~'"]+$/, ''), line: lineOf(match.index) });
  }
  return links;
}

export function readMarkdown(text: string): MarkdownDocument {
  const lines = text.split('\n');
  const blocks: FencedBlock[] = [];
  const anchors = new Set<string>();
  const prose: string[] = [];
  let open: { fence: string; info: string[]; line: number; code: string[] } | undefined;
  const seen = new Map<string, number>();
  lines.forEach((line, index) => {
    const fence = FENCE.exec(line);
    if (open) {
      if (fence && fence[1][0] === open.fence[0] && fence[1].length >= open.fence.length && fence[2] === '') {
        blocks.push({ info: open.info, code: open.code.join('\n'), line: open.line });
        open = undefined;
      } else open.code.push(line);
      prose.push('');
      return;
    }
    if (fence) {
      open = { fence: fence[1], info: fence[2].split(/\s+/).filter(Boolean), line: index + 1, code: [] };
      prose.push('');
      return;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      const anchor = headingAnchor(heading[2]);
      const repeats = seen.get(anchor) ?? 0;
      seen.set(anchor, repeats + 1);
      anchors.add(repeats === 0 ? anchor : `${anchor}-${repeats}`);
    }
    prose.push(line);
  });
  if (open) throw new Error(`The code block opened on line ${open.line} is never closed`);
  return { blocks, links: linksIn(withoutCodeSpans(prose.join('\n')), 1), anchors };
}
