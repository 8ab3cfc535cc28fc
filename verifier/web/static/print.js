// The report page's print button: the browser prints the page, toolbar hidden (@media print).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("print").addEventListener("click", () => window.print());
});
