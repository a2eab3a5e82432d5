/** The page's fixed elements, looked up by id and checked to be of the kind the caller uses. */
export function byId<T extends HTMLElement>(id: string, kind: new () => T): T {
  const el = document.getElementById(id);
  if (!(el instanceof kind)) throw new Error(`#${id} is not a ${kind.name} on this page`);
  return el;
}

export const $ = (id: string): HTMLElement => byId(id, HTMLElement);
export const select = (id: string): HTMLSelectElement => byId(id, HTMLSelectElement);
export const button = (id: string): HTMLButtonElement => byId(id, HTMLButtonElement);
