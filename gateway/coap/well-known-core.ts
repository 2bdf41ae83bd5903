/**
 * Resource discovery, /.well-known/core in CoRE Link Format (RFC 6690). One link per configured
 * sensor, then each sensor's thermostat settings and the gateway's statistics:
 *
 *   </temp>;rt="temperature";if="core.s";ct="60 112 110 50 0";obs;sim=1,</temp/alert>;rt="gw.alert";if="core.p";ct="60 50",
 *   </gw/stats>;rt="gw.stats";ct="60 50"
 *
 * rt is the module's quantity; if="core.s" is the sensor interface of the CoRE interfaces
 * draft (core.p its parameter interface); ct lists the Content-Formats a GET can ask for,
 * default first (RFC 7252 section 7.2.1 allows a space-separated list); obs marks an
 * observable resource (RFC 7641 section 6), a flag attribute without a value. sim=1 marks a
 * sensor a simulated chip answers for (its readings are not measurements): a link-extension
 * (RFC 6690 section 2) with a value, so that the standard filter `?sim=1` finds them
 * (section 4.1 filters on name=value); absent for real hardware. rt stays the quantity, so a
 * client that looks for rt="temperature" still finds the sensor and then sees `sim` in the
 * payload as well.
 *
 * A multi-quantity sensor (module ABI 1.1; an SHT3x at /env) has one link for its pack and one
 * per quantity:
 *
 *   </env>;rt="gw.sensor";if="core.b";ct="60 112 110 50 0";obs;sim=1;quantities="temperature humidity",
 *   </env/temperature>;rt="temperature";if="core.s";ct="60 112 110 50 0";obs;sim=1;u="Cel",
 *   </env/humidity>;rt="humidity";if="core.s";ct="60 112 110 50 0";obs;sim=1;u="%RH"
 *
 * The pack's rt is not a quantity, so that `?rt=temperature` finds the resources that answer
 * one temperature, as it always has; if="core.b" is the draft's batch interface (one
 * representation of several sub-resources). `quantities` lists the sub-resources' names; `u` is
 * the quantity's SenML unit (RFC 8428 section 12.1), given only when it is a registered
 * symbol: a module's unknown unit never reaches a client (its reads fail with
 * GW_ERR_MODULE_BAD_UNIT anyway).
 *
 * Query filtering (RFC 6690 section 4.1): `?rt=temp*`, `?if=core.s`, `?href=/temp*`, and any
 * other attribute name (`ct=60`). A value ending in `*` matches by prefix; an attribute with
 * several space-separated values matches when one of them does. Several query parameters must
 * all match.
 */
export interface LinkTarget {
  href: string;
  attributes: Record<string, string>;
}

/** The link of a sensor's reading resource. */
export function readingLink(href: string, quantity: string, formats: readonly number[], simulated: boolean): LinkTarget {
  // obs: the resource is observable (RFC 7641 section 6).
  const attributes: Record<string, string> = { rt: quantity, if: 'core.s', ct: formats.join(' '), obs: '' };
  if (simulated) attributes['sim'] = '1';
  return { href, attributes };
}

/** The link of a multi-quantity sensor's pack (pack-resource.ts). */
export function packLink(href: string, quantities: readonly string[], formats: readonly number[], simulated: boolean): LinkTarget {
  const attributes: Record<string, string> = { rt: PACK_RT, if: 'core.b', ct: formats.join(' '), obs: '' };
  if (simulated) attributes['sim'] = '1';
  attributes['quantities'] = quantities.join(' ');
  return { href, attributes };
}

/** The rt of a multi-quantity sensor's pack. */
export const PACK_RT = 'gw.sensor';

/** The link of one quantity of a multi-quantity sensor: a reading's link, with its unit when `unitOk`. */
export function quantityLink(href: string, quantity: string, unit: string, unitOk: boolean, formats: readonly number[], simulated: boolean): LinkTarget {
  const link = readingLink(href, quantity, formats, simulated);
  if (unitOk) link.attributes['u'] = unit;
  return link;
}

export function linkFormat(links: LinkTarget[]): string {
  return links
    .map((l) => `<${l.href}>` + Object.entries(l.attributes).map(([k, v]) => (v === '' ? `;${k}` : /^[0-9]+$/.test(v) && k !== 'rt' && k !== 'if' ? `;${k}=${v}` : `;${k}="${v}"`)).join(''))
    .join(',');
}

export interface LinkFilter {
  name: string;
  value: string;
}

/** Each Uri-Query option is one `name=value` filter (RFC 6690 section 4.1). */
export function parseFilters(query: readonly string[]): LinkFilter[] {
  return query.map((item) => {
    const eq = item.indexOf('=');
    return eq < 0 ? { name: item, value: '' } : { name: item.slice(0, eq), value: item.slice(eq + 1) };
  });
}

export function matches(link: LinkTarget, filter: LinkFilter): boolean {
  const candidates = filter.name === 'href' ? [link.href] : link.attributes[filter.name]?.split(' ');
  if (!candidates) return false;
  const prefix = filter.value.endsWith('*');
  const wanted = prefix ? filter.value.slice(0, -1) : filter.value;
  return candidates.some((c) => (prefix ? c.startsWith(wanted) : c === wanted));
}

export function filterLinks(links: LinkTarget[], filters: LinkFilter[]): LinkTarget[] {
  return links.filter((l) => filters.every((f) => matches(l, f)));
}
