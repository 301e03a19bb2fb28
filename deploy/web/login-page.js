// Progressive enhancement for the sign-in page: explains why the server sent the user back
// here (the form itself works without JavaScript) and keeps the original destination.
const messages = {
  invalid_credentials: "The username or password is incorrect.",
  account_disabled: "This account is disabled.",
  too_many_attempts: "Too many failed attempts. Wait a moment and try again.",
  invalid_request: "Enter both a username and a password.",
  refresh_invalid: "Your session has ended. Please sign in again.",
  refresh_missing: "Please sign in to continue.",
  refresh_reused: "Your session was ended for your safety. Please sign in again.",
  unavailable: "The service is busy. Please try again shortly.",
};

const params = new URLSearchParams(location.search);
const status = document.getElementById("status");
const error = params.get("error");
if (error) {
  status.textContent = messages[error] ?? "Sign-in failed. Please try again.";
  status.hidden = false;
}
const rd = params.get("rd");
if (rd && rd.startsWith("/") && !rd.startsWith("//")) {
  document.querySelector('#login input[name="rd"]').value = rd;
}
