#!/bin/sh
# sign.sh — send one signed request to callgate's business API with openssl and curl.
#
#   CALLGATE_URL=http://127.0.0.1:8081 CALLGATE_APP=crm CALLGATE_SECRET=… \
#     sh sign.sh METHOD PATH [QUERY] [BODY]
#
#   METHOD  GET, POST, PATCH or DELETE
#   PATH    e.g. /v1/bindings or /v1/bindings/42
#   QUERY   the query string, already canonical: parameters sorted by key then value,
#           each key and value percent-encoded per RFC 3986 (a "+" is %2B), e.g.
#           'limit=20&party=%2B8613800000001&tenant=acme'; '' for none
#   BODY    the JSON body, '' for none
#
# Examples:
#   sh sign.sh POST /v1/bindings '' '{"mode":"AXB","a":"+8613800000001","b":"+8613900000002"}'
#   sh sign.sh GET /v1/bindings 'limit=20&tenant=acme'
#   sh sign.sh DELETE /v1/bindings/42
#
# CALLGATE_DRY_RUN=1 prints the canonical string and the headers instead of sending;
# CALLGATE_TIMESTAMP and CALLGATE_NONCE replace the clock and the random nonce (for
# checking a signature by hand; never reuse a nonce for real).
#
# The secret is passed to openssl on its command line, where other users of this
# machine can see it in the process list: use this script on a machine of your own.
set -eu

if [ $# -lt 2 ]; then
	sed -n '2,24p' "$0" >&2
	exit 2
fi
method=$1
path=$2
query=${3:-}
body=${4:-}
: "${CALLGATE_APP:?set CALLGATE_APP to the app name}"
: "${CALLGATE_SECRET:?set CALLGATE_SECRET to the app secret}"

ts=${CALLGATE_TIMESTAMP:-$(date +%s)}
nonce=${CALLGATE_NONCE:-$(openssl rand -hex 16)}

# Lowercase hex SHA-256 of the body (of nothing for no body).
body_hash=$(printf '%s' "$body" | openssl dgst -sha256 -r | cut -d ' ' -f 1)

# The six lines, joined by "\n", without a final newline.
canonical=$(printf '%s\n%s\n%s\n%s\n%s\n%s' "$method" "$path" "$query" "$body_hash" "$ts" "$nonce")

# Lowercase hex HMAC-SHA256 of the canonical string under the secret.
signature=$(printf '%s' "$canonical" | openssl dgst -sha256 -hmac "$CALLGATE_SECRET" -r | cut -d ' ' -f 1)

if [ "${CALLGATE_DRY_RUN:-}" = 1 ]; then
	printf '%s\n' "--- canonical ---" "$canonical" "--- headers ---"
	printf 'X-Callgate-App: %s\nX-Callgate-Timestamp: %s\nX-Callgate-Nonce: %s\nX-Callgate-Signature: %s\n' \
		"$CALLGATE_APP" "$ts" "$nonce" "$signature"
	exit 0
fi

: "${CALLGATE_URL:?set CALLGATE_URL, e.g. http://127.0.0.1:8081}"
url="$CALLGATE_URL$path"
if [ -n "$query" ]; then
	url="$url?$query"
fi
if [ -n "$body" ]; then
	exec curl -sS -X "$method" "$url" \
		-H "X-Callgate-App: $CALLGATE_APP" -H "X-Callgate-Timestamp: $ts" \
		-H "X-Callgate-Nonce: $nonce" -H "X-Callgate-Signature: $signature" \
		-H 'Content-Type: application/json' --data-binary "$body"
fi
exec curl -sS -X "$method" "$url" \
	-H "X-Callgate-App: $CALLGATE_APP" -H "X-Callgate-Timestamp: $ts" \
	-H "X-Callgate-Nonce: $nonce" -H "X-Callgate-Signature: $signature"
