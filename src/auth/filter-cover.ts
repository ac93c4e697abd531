// Does one topic filter cover another: is every topic the subscription filter can match also matched by the
// rule's filter? The subscribe-time ACL question (a delivery is checked on its topic with topicMatches).

/**
 * True when every topic `filter` matches is matched by `rule`. Topics starting with `$` are never matched by a
 * rule starting with a wildcard [MQTT-4.7.2-1], so `#` does not cover `$SYS/#`.
 */
export function filterCovers(rule: string, filter: string): boolean {
  const r = rule.split('/');
  const f = filter.split('/');
  if (f[0]!.startsWith('$') && (r[0] === '#' || r[0] === '+')) return false;
  for (let i = 0; i < r.length; i++) {
    const rl = r[i]!;
    if (rl === '#') return true;
    if (i >= f.length) return false;
    const fl = f[i]!;
    if (fl === '#') return false; // the filter reaches deeper levels the rule does not name
    if (rl === '+') continue;
    if (fl === '+' || fl !== rl) return false;
  }
  // Every rule level matched without `#`: a filter with more levels reaches topics the rule does not.
  return f.length === r.length;
}
