"use strict";
document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("print").addEventListener("click", () => window.print());
});
