// The hosted pages' one script (same origin; the CSP allows no other).
// With a link's `#token=...` it submits the token to the API with fetch
// and shows the outcome in the live region; without one, the page's plain
// HTML form works on its own (it posts to the server, no script needed).
"use strict";

(function () {
  var PAGES = {
    "verify-email": {
      endpoint: "/verify-email",
      working: "Confirming your email address…",
      success: "Your email address is confirmed. You can close this page.",
      taken: "Another account uses this address."
    },
    "confirm-email-change": {
      endpoint: "/users/me/email/confirm",
      working: "Confirming your new email address…",
      success: "Your email address is changed. Log in with the new address from now on.",
      taken: "Another account now uses the new address, so your address was not changed."
    },
    "undo-email-change": {
      endpoint: "/email-change/undo",
      working: "Undoing the change of your email address…",
      success: "The change is undone: your account uses its previous email address again. " +
        "Every session has been ended; log in again, and change your password if you did not ask for the change.",
      taken: "Another account now uses your previous address, so the change could not be undone."
    },
    "reset-password": {
      endpoint: "/password/reset",
      working: "Setting your new password…",
      success: "Your password was changed. Every session has been ended; log in with the new password.",
      taken: "Another account uses this address."
    }
  };

  var MISMATCH = "The two passwords do not match. Type the same password twice.";

  // The sentence for an API answer that is not a success.
  function failure(page, status, body) {
    var code = body && body.error;
    if (code === "invalid_or_expired_token") {
      return "This link or code is invalid or has expired. Ask for a new email and try again.";
    }
    if (code === "email_taken") {
      return page.taken;
    }
    if (status === 429 || code === "rate_limited") {
      return "Too many attempts. Wait a few minutes, then try again.";
    }
    if (status === 422 && body && body.errors) {
      var messages = [];
      Object.keys(body.errors).forEach(function (field) {
        messages = messages.concat(body.errors[field]);
      });
      if (messages.length) {
        return messages.join(" ");
      }
    }
    if (status === 503) {
      return "The service is unavailable right now. Please try again in a minute.";
    }
    return "Something went wrong on our side. Please try again later.";
  }

  function show(status, text, outcome) {
    status.textContent = text;
    status.classList.remove("success", "failure");
    if (outcome) {
      status.classList.add(outcome);
    }
  }

  // The token of `#token=...`, then the fragment is cleared from the
  // address bar (and from history), so it is not left behind.
  function takeToken() {
    var fragment = window.location.hash.replace(/^#/, "");
    if (!fragment) {
      return null;
    }
    var token = new URLSearchParams(fragment).get("token");
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", window.location.pathname + window.location.search);
    }
    return token || null;
  }

  function submit(page, status, body, onDone) {
    show(status, page.working, null);
    fetch(page.endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body),
      credentials: "omit",
      cache: "no-store"
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (json) {
        if (response.ok) {
          show(status, page.success, "success");
          onDone(true);
        } else {
          show(status, failure(page, response.status, json), "failure");
          onDone(false);
        }
      });
    }, function () {
      show(status, "The service could not be reached. Check your connection and try again.", "failure");
      onDone(false);
    });
  }

  function start() {
    var name = document.body.getAttribute("data-page");
    var page = PAGES[name];
    var status = document.getElementById("status");
    if (!page || !status) {
      return;
    }
    var token = takeToken();
    var manual = document.getElementById("manual");
    if (name === "reset-password") {
      startReset(page, status, token);
      return;
    }
    if (token) {
      submitToken(page, status, manual, token);
    }
    // Another link opened in this tab changes only the fragment.
    window.addEventListener("hashchange", function () {
      var next = takeToken();
      if (next) {
        submitToken(page, status, manual, next);
      }
    });
  }

  function submitToken(page, status, manual, token) {
    manual.hidden = true;
    submit(page, status, { token: token }, function (ok) {
      // A failed link leaves the manual form as the way forward.
      manual.hidden = ok;
    });
  }

  function startReset(page, status, token) {
    var form = document.getElementById("reset-form");
    var password = document.getElementById("password");
    var again = document.getElementById("password_confirm");
    var codeFields = document.getElementById("code-fields");
    if (token) {
      // The link's token stands for the email address and the code.
      codeFields.hidden = true;
      codeFields.disabled = true;
      password.focus();
    }
    form.addEventListener("submit", function (event) {
      if (password.value !== again.value) {
        event.preventDefault();
        show(status, MISMATCH, "failure");
        again.focus();
        return;
      }
      if (!token) {
        return; // the plain form posts itself
      }
      event.preventDefault();
      var button = form.querySelector("button");
      button.disabled = true;
      submit(page, status, { token: token, password: password.value }, function (ok) {
        button.disabled = false;
        if (ok) {
          form.hidden = true;
        }
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
