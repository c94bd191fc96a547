// Progressive enhancement only: every page works with plain form posts and no script.
// Drag and drop a workbook onto the upload form: it is put in the file input and sent.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  var input = document.getElementById("upload-file");
  if (!form || !input) { return; }
  ["dragenter", "dragover"].forEach(function (name) {
    form.addEventListener(name, function (e) { e.preventDefault(); form.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    form.addEventListener(name, function () { form.classList.remove("over"); });
  });
  form.addEventListener("drop", function (e) {
    e.preventDefault();
    if (!e.dataTransfer || !e.dataTransfer.files || e.dataTransfer.files.length !== 1) { return; }
    input.files = e.dataTransfer.files;
    form.submit();
  });
}());
