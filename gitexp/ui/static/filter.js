// Row filters such as `test.acc > 0.8 and status == succeeded`, parsed into a predicate (never evaluated as code).
// Grammar: or := and ("or" and)*; and := not ("and" not)*; not := "not" not | "(" or ")" | compare;
// compare := operand [("==" | "!=" | ">" | ">=" | "<" | "<=" | "~") operand]; "~" means "contains".
"use strict";
const GitexpFilter = (() => {
  const TOKEN = /\s*(?:(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)|("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(==|!=|>=|<=|>|<|~|=|\(|\))|([A-Za-z_][\w.:/\-\[\]]*))/y;
  const KEYWORDS = new Set(["and", "or", "not"]);

  function tokenize(text) {
    const tokens = [];
    TOKEN.lastIndex = 0;
    while (TOKEN.lastIndex < text.length) {
      if (/^\s*$/.test(text.slice(TOKEN.lastIndex))) break;
      const start = TOKEN.lastIndex;
      const match = TOKEN.exec(text);
      if (!match) throw new Error(`cannot read the filter at column ${start + 1}: ${text.slice(start, start + 10)}`);
      if (match[1] !== undefined) tokens.push({kind: "number", value: Number(match[1])});
      else if (match[2] !== undefined) tokens.push({kind: "string", value: match[2].slice(1, -1).replace(/\\(.)/g, "$1")});
      else if (match[3] !== undefined) tokens.push({kind: "op", value: match[3] === "=" ? "==" : match[3]});
      else tokens.push({kind: KEYWORDS.has(match[4]) ? match[4] : "name", value: match[4]});
    }
    return tokens;
  }

  function parse(text, resolve) {
    const tokens = tokenize(text);
    let at = 0;
    const peek = () => tokens[at];
    const take = (kind) => (peek() && peek().kind === kind ? tokens[at++] : null);
    function or() {
      let left = and();
      while (take("or")) { const a = left, b = and(); left = (row) => a(row) || b(row); }
      return left;
    }
    function and() {
      let left = not();
      while (take("and")) { const a = left, b = not(); left = (row) => a(row) && b(row); }
      return left;
    }
    function not() {
      if (take("not")) { const inner = not(); return (row) => !inner(row); }
      if (peek() && peek().kind === "op" && peek().value === "(") {
        at++;
        const inner = or();
        if (!(peek() && peek().value === ")")) throw new Error("a ( is not closed");
        at++;
        return inner;
      }
      return compare();
    }
    function operand() {
      const token = tokens[at++];
      if (!token) throw new Error("the filter ends where a value is expected");
      if (token.kind === "number" || token.kind === "string") return () => token.value;
      if (token.kind !== "name") throw new Error(`a value is expected, found ${token.value}`);
      const get = resolve(token.value);
      return get || (() => token.value); // a bare word that is no column is text: status == succeeded
    }
    function compare() {
      const left = operand();
      const op = peek() && peek().kind === "op" && peek().value !== "(" && peek().value !== ")" ? tokens[at++].value : null;
      if (!op) return (row) => truthy(left(row));
      const right = operand();
      return (row) => test(op, left(row), right(row));
    }
    const predicate = or();
    if (at < tokens.length) throw new Error(`unexpected ${tokens[at].value} in the filter`);
    return predicate;
  }

  function truthy(value) { return value !== null && value !== undefined && value !== false && value !== ""; }

  function test(op, a, b) {
    if (a === null || a === undefined) return op === "!=" ? b !== null && b !== undefined : false;
    if (op === "~") return String(a).toLowerCase().includes(String(b).toLowerCase());
    const numeric = typeof a === "number" && typeof b === "number";
    const x = numeric ? a : String(a), y = numeric ? b : String(b);
    switch (op) {
      case "==": return x === y;
      case "!=": return x !== y;
      case ">": return x > y;
      case ">=": return x >= y;
      case "<": return x < y;
      case "<=": return x <= y;
    }
    return false;
  }

  return {parse};
})();
