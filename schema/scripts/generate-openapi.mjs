// Generates generated/openapi.ts (the `paths` and `operations` of openapi.json as TypeScript types,
// which src/client's openapi-fetch client is typed by) with openapi-typescript. generate-types.mjs
// runs it; nothing in generated/ is edited by hand.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import openapiTS, { astToString } from 'openapi-typescript';
import ts from 'typescript';

/**
 * Writes `<root>/generated/openapi.ts` from `<root>/openapi.json` (and the schema files it refers to).
 * @param {string} root the schema/ folder
 * @param {string} header the banner comment of generated files
 * @throws Error when the document or a schema it refers to cannot be read or resolved
 */
export async function generateOpenapiTypes(root, header) {
  const ast = await openapiTS(pathToFileURL(join(root, 'openapi.json')), {
    // openapi-typescript would otherwise make a property with a `default` required. The daemon fills
    // defaults in, but a caller may leave them out (`RunCreate.heartbeat`, `experiment`); the
    // exemption openapi-typescript makes for request bodies misses bodies that are `$ref`s to files.
    defaultNonNullable: false,
    postTransform: withoutDefs,
    silent: true,
  });
  writeFileSync(join(root, 'generated', 'openapi.ts'), `${header}${astToString(ast)}`);
}

/**
 * openapi-typescript 7.13 types a schema's `$defs` as a required property of the object (its issue
 * #2664), as if a run carried its own definitions; the refs into `$defs` are bundled as components
 * of their own, so the member goes.
 */
function withoutDefs(type) {
  if (ts.isTypeLiteralNode(type)) {
    const members = type.members.filter((member) => !isDefs(member));
    return members.length === type.members.length ? undefined : ts.factory.updateTypeLiteralNode(type, ts.factory.createNodeArray(members));
  }
  if (ts.isIntersectionTypeNode(type)) {
    const parts = type.types.map((part) => withoutDefs(part) ?? part);
    const kept = parts.filter((part) => !(ts.isTypeLiteralNode(part) && part.members.length === 0));
    if (kept.length === type.types.length && kept.every((part, i) => part === type.types[i])) return undefined;
    return kept.length === 1 ? kept[0] : ts.factory.createIntersectionTypeNode(kept);
  }
  return undefined;
}

function isDefs(member) {
  const name = ts.isPropertySignature(member) ? member.name : undefined;
  return name !== undefined && (ts.isIdentifier(name) || ts.isStringLiteral(name)) && name.text === '$defs';
}
