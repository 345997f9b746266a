// The live pages' client: the stock phoenix_live_view (served from node_modules by
// web/assets.py) on the stock phoenix Socket, sending back the page's CSRF token.
import { Socket } from "/assets/phoenix.js";
import { LiveSocket } from "/assets/phoenix_live_view.js";

const csrfToken = document.querySelector("meta[name='csrf-token']").getAttribute("content");

// Direct uploads to S3-compatible storage (live/uploads.py, external=): each entry's meta
// is a presigned POST (url and form fields); the file goes straight to the bucket and its
// progress is reported to the view. The policy in the fields limits key, type and size.
const Uploaders = {
  S3(entries, onViewError) {
    for (const entry of entries) {
      const { url, fields } = entry.meta;
      const form = new FormData();
      for (const [key, value] of Object.entries(fields)) form.append(key, value);
      form.append("file", entry.file);
      const request = new XMLHttpRequest();
      onViewError(() => request.abort());
      request.onload = () => {
        if (request.status >= 200 && request.status < 300) entry.progress(100);
        else entry.error(`the storage refused the file (${request.status})`);
      };
      request.onerror = () => entry.error("the storage could not be reached");
      request.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) {
          const percent = Math.round((event.loaded / event.total) * 100);
          if (percent < 100) entry.progress(percent);
        }
      });
      request.open("POST", url, true);
      request.send(form);
    }
  },
};

const liveSocket = new LiveSocket("/live", Socket, {
  params: { _csrf_token: csrfToken },
  longPollFallbackMs: 2500,
  uploaders: Uploaders,
});
liveSocket.connect();
window.liveSocket = liveSocket;
