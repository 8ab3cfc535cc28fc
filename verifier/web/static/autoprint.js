// The printable report opens the browser's print dialog once it has loaded.
"use strict";
window.addEventListener("load", () => window.print());
