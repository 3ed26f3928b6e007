// Typeset the formulas that pymdownx.arithmatex (generic mode) wraps in .arithmatex elements:
// \( ... \) inline and \[ ... \] on their own line. Only those elements are touched, so a
// backslash or a dollar sign elsewhere on the page stays text. Material's document$ emits on
// the first load and after every instant-navigation page change.
(function () {
  function typeset(root) {
    root.querySelectorAll(".arithmatex").forEach(function (el) {
      renderMathInElement(el, {
        delimiters: [
          { left: "\\(", right: "\\)", display: false },
          { left: "\\[", right: "\\]", display: true },
        ],
        throwOnError: false,
      });
    });
  }
  if (typeof document$ !== "undefined") {
    document$.subscribe(function (doc) {
      typeset(doc.body);
    });
  } else {
    document.addEventListener("DOMContentLoaded", function () {
      typeset(document.body);
    });
  }
})();
