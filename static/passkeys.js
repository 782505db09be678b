// Passkeys on Klucznik's pages: the one script, served by Klucznik itself
// (the pages' CSP allows no other). Buttons say what they do:
//   data-passkey="register"       add a passkey (Security screen)
//   data-passkey="sign-in"        sign in with a passkey alone
//   data-passkey="second-factor"  the second sign-in step (data-mfa-token)
"use strict";
(function () {
  function decode(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    base64 += "=".repeat((4 - (base64.length % 4)) % 4);
    return Uint8Array.from(atob(base64), function (c) { return c.charCodeAt(0); }).buffer;
  }
  function encode(buffer) {
    var bytes = new Uint8Array(buffer), text = "";
    for (var i = 0; i < bytes.length; i++) { text += String.fromCharCode(bytes[i]); }
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function post(path, body) {
    return fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body || {}),
    }).then(function (answer) {
      return answer.json().then(function (json) {
        if (!answer.ok) { throw new Error(json.message || answer.statusText); }
        return json;
      });
    });
  }
  function creationOptions(options) {
    var key = options.publicKey;
    key.challenge = decode(key.challenge);
    key.user.id = decode(key.user.id);
    (key.excludeCredentials || []).forEach(function (c) { c.id = decode(c.id); });
    return options;
  }
  function requestOptions(options) {
    var key = options.publicKey;
    key.challenge = decode(key.challenge);
    (key.allowCredentials || []).forEach(function (c) { c.id = decode(c.id); });
    return { publicKey: key };
  }
  function registration(credential) {
    return {
      id: credential.id, rawId: encode(credential.rawId), type: credential.type,
      response: {
        attestationObject: encode(credential.response.attestationObject),
        clientDataJSON: encode(credential.response.clientDataJSON),
      },
      extensions: credential.getClientExtensionResults(),
    };
  }
  function assertion(credential) {
    var response = credential.response;
    return {
      id: credential.id, rawId: encode(credential.rawId), type: credential.type,
      response: {
        authenticatorData: encode(response.authenticatorData),
        clientDataJSON: encode(response.clientDataJSON),
        signature: encode(response.signature),
        userHandle: response.userHandle ? encode(response.userHandle) : null,
      },
      extensions: credential.getClientExtensionResults(),
    };
  }
  function fail(error) {
    var place = document.getElementById("passkey-error");
    if (place) { place.textContent = String(error.message || error); place.hidden = false; }
  }
  var flows = {
    "register": function () {
      var name = document.getElementById("passkey-name");
      return post("/api/v1/me/passkeys/register/start").then(function (start) {
        return navigator.credentials.create(creationOptions(start.options)).then(function (credential) {
          return post("/api/v1/me/passkeys/register/finish", {
            ceremony: start.ceremony, name: name ? name.value : "", credential: registration(credential),
          });
        });
      }).then(function () { window.location.reload(); });
    },
    "sign-in": function () {
      return post("/api/v1/login/passkey/start").then(function (start) {
        return navigator.credentials.get(requestOptions(start.options)).then(function (credential) {
          return post("/api/v1/login/passkey/finish", { ceremony: start.ceremony, credential: assertion(credential) });
        });
      }).then(function () { window.location.assign("/"); });
    },
    "second-factor": function (button) {
      var token = button.getAttribute("data-mfa-token");
      return post("/api/v1/login/mfa/passkey", { mfa_token: token }).then(function (start) {
        return navigator.credentials.get(requestOptions(start.options)).then(function (credential) {
          return post("/api/v1/login/mfa", {
            mfa_token: token, passkey: { ceremony: start.ceremony, credential: assertion(credential) },
          });
        });
      }).then(function () { window.location.assign("/"); });
    },
  };
  document.querySelectorAll("[data-passkey]").forEach(function (button) {
    if (!window.PublicKeyCredential) { button.hidden = true; return; }
    button.hidden = false;
    button.addEventListener("click", function (event) {
      event.preventDefault();
      flows[button.getAttribute("data-passkey")](button).catch(fail);
    });
  });
})();
