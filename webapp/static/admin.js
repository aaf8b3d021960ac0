// The admin queues tab: live queue lengths over Server-Sent Events (text only).
"use strict";
(function () {
  const table = document.getElementById("queues");
  if (!table) return;
  hotline.live("/live/admin/queues", {
    lengths: function (byQueue) {
      for (const row of table.querySelectorAll("tr[data-queue]")) {
        const live = byQueue[row.dataset.queue];
        if (!live) continue;
        row.querySelector('[data-live="waiting"]').textContent = String(live.waiting);
        row.querySelector('[data-live="callbacks"]').textContent = String(live.callbacks);
        row.querySelector('[data-live="longest"]').textContent =
          live.longest === null ? "–" : hotline.t("admin.queues.seconds", { seconds: live.longest });
      }
    },
  });
})();
