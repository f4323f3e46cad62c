"""counter (窓口): the staff's system — sign-in, person inquiry with a required reason, the access log."""

import warnings

import authlib.deprecate  # noqa: F401  (its own "always" filter first, so that ours below takes precedence)

# authlib's httpx client announces its own future move (httpx2) on import: not ours to act on, and noise in
# every command's output.
warnings.filterwarnings("ignore", message="The httpx module is deprecated", module="authlib")
