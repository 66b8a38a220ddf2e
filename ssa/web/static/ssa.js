// Small progressive enhancements: every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // "Print" buttons: shown only where printing from a button is possible.
  for (const button of document.querySelectorAll("[data-print]")) {
    button.hidden = false;
    button.addEventListener("click", () => window.print());
  }
  // A till's payment request: reload once the member has paid (or it expired).
  const poll = document.querySelector("[data-poll]");
  if (poll) {
    const ask = async () => {
      try {
        const answer = await fetch(poll.dataset.poll, { cache: "no-store", credentials: "same-origin" });
        if (answer.ok && (await answer.text()) !== "pending") {
          window.location.reload();
          return;
        }
      } catch (error) {
        // offline for a moment: ask again
      }
      window.setTimeout(ask, 2000);
    };
    window.setTimeout(ask, 2000);
  }
  // Scanning a till's QR code with the camera, where the browser can read barcodes.
  const form = document.querySelector("[data-scan-form]");
  if (!form || !("BarcodeDetector" in window) || !navigator.mediaDevices) return;
  const button = form.querySelector("[data-scan]");
  const video = form.querySelector("[data-scan-video]");
  const input = form.querySelector("input[name=code]");
  button.hidden = false;
  button.addEventListener("click", async () => {
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    } catch (error) {
      return; // no camera, or refused: the code can still be typed
    }
    const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    const look = async () => {
      const found = await detector.detect(video).catch(() => []);
      const payment = found.map((code) => code.rawValue).find((value) => value.startsWith("ssa:pay:"));
      if (payment) {
        stream.getTracks().forEach((track) => track.stop());
        input.value = payment.split(":").pop();
        form.submit();
        return;
      }
      requestAnimationFrame(look);
    };
    look();
  });
});
