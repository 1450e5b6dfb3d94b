// The desk's live character counts (the page renders the same counts without JavaScript).
"use strict";
document.querySelectorAll("input[data-count]").forEach(function (input) {
  var counter = document.getElementById(input.dataset.count).querySelector(".counter");
  var cut = counter.dataset.cut.split(",").map(Number);
  var words = counter.dataset.words ? JSON.parse(counter.dataset.words) : null;
  input.addEventListener("input", function () {
    var n = Array.from(input.value).length;
    var said = counter.textContent.split(" · ");
    said[0] = said[0].replace(/\d+/, String(n));
    if (words) { said[1] = n > cut[1] ? words.desktop : n > cut[0] ? words.phone : words.whole; }
    counter.textContent = said.join(" · ");
  });
});
