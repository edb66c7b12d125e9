// window.Recap is one object that recap.js and the player extend, loaded in any order. Calls
// queued with Recap.push([method, ...args]) (or in an array before either loads) run once a
// file with that method is in; one that throws is reported and the rest still run.
export function extendRecap(methods) {
  let R = window.Recap;
  const calls = Array.isArray(R) ? R : (R && R._queued) || [];
  if (!R || Array.isArray(R)) R = window.Recap = {};
  Object.assign(R, methods);
  R._queued = [];
  R.push = (...queued) => {
    for (const call of queued) {
      if (!Array.isArray(call)) continue;
      if (!(R[call[0]] instanceof Function)) R._queued.push(call);
      else try { R[call[0]](...call.slice(1)); } catch (e) { setTimeout(() => { throw e; }); }
    }
  };
  R.push(...calls);
}
