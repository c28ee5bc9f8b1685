import { readFileSync } from 'node:fs';
import path from 'node:path';

/** A YAML mapping as azure.yaml uses it: nested mappings of plain or quoted scalars. */
export interface YamlMap {
  [key: string]: string | YamlMap;
}

function scalar(text: string): string {
  if (text.startsWith("'")) return text.slice(1, -1).replace(/''/g, "'");
  if (text.startsWith('"')) return JSON.parse(text) as string;
  return text;
}

/**
 * Reads azure.yaml's subset of YAML (mappings by indentation, one-line scalars, comments); anything else, such
 * as a list or a multi-line scalar, is refused rather than misread.
 */
export function readAzureYaml(root: string): YamlMap {
  const document: YamlMap = {};
  const stack: Array<{ indent: number; map: YamlMap }> = [{ indent: -1, map: document }];
  for (const line of readFileSync(path.join(root, 'azure.yaml'), 'utf8').split('\n')) {
    if (/^\s*(#.*)?$/.test(line)) continue;
    const match = /^( *)([\w.-]+):(?: +(.*))?$/.exec(line);
    if (!match || /^[|>-]/.test(match[3] ?? '')) throw new Error(`azure.yaml: this test reads no such line: ${line}`);
    const [, spaces, key, value] = match;
    while (stack[stack.length - 1].indent >= spaces.length) stack.pop();
    const parent = stack[stack.length - 1].map;
    if (value === undefined || value === '') {
      const child: YamlMap = {};
      parent[key] = child;
      stack.push({ indent: spaces.length, map: child });
    } else {
      parent[key] = scalar(value.trim());
    }
  }
  return document;
}

/** The value at `keys`, if it is a scalar. */
export function yamlValue(map: YamlMap, ...keys: string[]): string | undefined {
  let node: string | YamlMap | undefined = map;
  for (const key of keys) node = typeof node === 'object' ? node[key] : undefined;
  return typeof node === 'string' ? node : undefined;
}
