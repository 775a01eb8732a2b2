#!/usr/bin/env bash
# The buyerguard tour: a demo order placed, paid, shipped, signed for and confirmed, its money,
# a payout, then a second order returned within 7 days and refunded at once.
#
#   examples/tour.sh                              # against `make run` (http://127.0.0.1:8000)
#   BG=http://127.0.0.1:9000 examples/tour.sh     # another server over the same database
#
# Run it from the repository root with the venv active (`. .venv/bin/activate`): it reads
# the demo tokens through `buyerguard demo token`. Each step prints a heading, each call
# its method and path and the API's answer as indented JSON (where an answer is long, the
# fields that matter to the step: TOUR_FULL=1 shows every answer whole). The first call
# the API refuses stops the tour: its error body is shown, and the last line on stderr
# names the step, the call and the HTTP status. tests/test_live_tour.py runs this file.
set -Eeuo pipefail

BG=${BG:-http://127.0.0.1:8000}
MKT="Authorization: Bearer $(buyerguard demo token marketplace)"
MERCHANT="Authorization: Bearer $(buyerguard demo token merchant)"
BUYER="Authorization: Bearer $(buyerguard demo token buyer)"
OPS="Authorization: Bearer $(buyerguard demo token operator)"
JSON="Content-Type: application/json"
ORDER=tour-$(date +%s)

if [ -t 1 ]; then BOLD=$'\e[1m' PLAIN=$'\e[0m'; else BOLD='' PLAIN=''; fi
STEP="(before the first step)"
STEPS=0

step() { # a heading for what follows
  STEPS=$((STEPS + 1))
  STEP="$STEPS. $*"
  printf '\n%s== %s%s\n' "$BOLD" "$STEP" "$PLAIN"
}

stop() { # the tour ends here, saying where and why
  printf 'tour stopped at step %s\n  %s\n' "$STEP" "$*" >&2
  exit 1
}
# A command other than a call (the CLI at the end) that fails stops the tour the same way.
trap 'stop "the command on line $LINENO failed (exit $?)"' ERR

# JSON on stdin, indented, with what fits in 100 columns on one line (a short list, a small
# object); argv[1], when given, keeps only those fields (of each item, in a list answer).
# Anything that is not JSON is shown as it came.
PRETTY=$(
  cat <<'PYTHON'
import json, sys

fields = [name for name in sys.argv[1].split(",") if name]
text = sys.stdin.read()
try:
    answer = json.loads(text)
except ValueError:
    print(text or "(no body)")
    sys.exit()

def kept(value):
    if not fields or not isinstance(value, dict):
        return value
    return {name: value[name] for name in fields if name in value}

def render(value, indent, prefix):
    flat = json.dumps(value, ensure_ascii=False)
    if not value or not isinstance(value, (dict, list)) or indent + prefix + len(flat) <= 100:
        return flat
    pad = " " * (indent + 2)
    if isinstance(value, dict):
        parts = [
            f"{pad}{json.dumps(k)}: {render(v, indent + 2, len(k) + 4)}" for k, v in value.items()
        ]
        return "{\n" + ",\n".join(parts) + "\n" + " " * indent + "}"
    parts = [pad + render(item, indent + 2, 0) for item in value]
    return "[\n" + ",\n".join(parts) + "\n" + " " * indent + "]"

if isinstance(answer, dict) and isinstance(answer.get("items"), list):
    answer = {**answer, "items": [kept(item) for item in answer["items"]]}
else:
    answer = kept(answer)
print(render(answer, 0, 0))
PYTHON
)

call() { # [--show FIELD,...] METHOD PATH [curl options]: the answer, indented, kept in $ANSWER
  local fields='' method path status
  if [ "$1" = --show ]; then
    [ -n "${TOUR_FULL:-}" ] || fields=$2
    shift 2
  fi
  method=$1 path=$2
  shift 2
  printf '%s %s\n' "$method" "$path"
  ANSWER=$(curl -sS -X "$method" "$BG$path" -w '\n%{http_code}' "$@") ||
    stop "$method $path: no answer from $BG (curl exit $?)"
  status=${ANSWER##*$'\n'}
  ANSWER=${ANSWER%$'\n'*}
  if [ "$status" -ge 400 ]; then
    python3 -c "$PRETTY" "" <<<"$ANSWER" >&2
    stop "$method $path answered HTTP $status (its error body is above)"
  fi
  python3 -c "$PRETTY" "$fields" <<<"$ANSWER"
}

step "The marketplace reports an order: 10 x 36.00 cups + 2 x 2,500.00 towels, 20.00 shipping"
call POST /v1/orders -H "$MKT" -H "$JSON" -H "Idempotency-Key: place-$ORDER" \
  -d '{"id": "'"$ORDER"'", "buyer_id": "B-shop", "shipping": "20.00",
       "lines": [{"product_id": "P-cups", "quantity": 10},
                 {"product_id": "P-towels", "quantity": 2}]}'

step "It reports the payment of the total, 5,380.00: held in escrow, per sub-order"
call --show id,state,total,paid_at,paid_rulebook_id \
  POST "/v1/orders/$ORDER/payment" -H "$MKT" -H "$JSON" -H "Idempotency-Key: pay-$ORDER" \
  -d '{"amount": "5380.00"}'

step "The merchant ships it; the marketplace reports it signed for; the buyer confirms"
call --show id,state,carrier,tracking_number,shipped_at \
  POST "/v1/orders/$ORDER/shipment" -H "$MERCHANT" -H "$JSON" \
  -d '{"carrier": "SF", "tracking_number": "SF1234567890", "official_logistics": true}'
call --show id,state,signed_at POST "/v1/orders/$ORDER/signing" -H "$MKT"
call --show id,state,confirmed_at,confirmed_by POST "/v1/orders/$ORDER/confirmation" -H "$BUYER"

step "Fees: 360.00 x 0.6% = 2.16; 5,000.00 x 0.6% = 30.00, capped at 18.00; shipping never counts"
call --show kind,subject_id,amount,rule_ids,explanation \
  GET "/v1/orders/$ORDER/decisions" -H "$MERCHANT"

step "The money (on a fresh demo): payable 5,380.00 - 20.16 = 5,359.84; fee revenue 20.16"
call GET "/v1/ledger/accounts/merchant:M-yiwu:payable" -H "$MERCHANT"
call GET "/v1/ledger/accounts/platform:fee_revenue" -H "$OPS"

step "The feed, in commit order: decisions, and what to execute (*_instructed)"
call --show kind,subject_id,amount GET "/v1/events?limit=20" -H "$MKT"

step "An operator runs payouts now (the scheduler does it daily at 00:00 Shanghai)"
# M-yiwu's payable becomes one payout instruction, payout_instructed on the feed.
call POST /v1/payouts/runs -H "$OPS" -H "$JSON" -d '{"merchant_ids": ["M-yiwu"]}'
call --show id,party,amount,state,instructed_at,overdue_after \
  GET "/v1/payouts?merchant_id=M-yiwu&state=instructed" -H "$MKT"
PAYOUT=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["items"][-1]["id"])' <<<"$ANSWER")

step "The marketplace paid it on its rails and reports it (failed: the money is owed again)"
call --show id,amount,state,reference,outcome_at \
  POST "/v1/payouts/$PAYOUT/execution" -H "$MKT" -H "$JSON" -H "Idempotency-Key: paid-$PAYOUT" \
  -d '{"outcome": "executed", "reference": "BANK-'"$ORDER"'"}'

step "The merchant's money, from the ledger: on a fresh demo paid_out 5,359.84, payable 0.00"
call GET /v1/merchants/M-yiwu/balance -H "$MERCHANT"

step "After-sales: a second order of 10 cups, paid, shipped and signed for"
BACK=$ORDER-back
call --show id,state,total \
  POST /v1/orders -H "$MKT" -H "$JSON" -H "Idempotency-Key: place-$BACK" \
  -d '{"id": "'"$BACK"'", "buyer_id": "B-shop",
       "lines": [{"product_id": "P-cups", "quantity": 10}]}'
call --show id,state,paid_at \
  POST "/v1/orders/$BACK/payment" -H "$MKT" -H "$JSON" -d '{"amount": "360.00"}'
call --show id,state,shipped_at \
  POST "/v1/orders/$BACK/shipment" -H "$MERCHANT" -H "$JSON" \
  -d '{"carrier": "SF", "tracking_number": "SF-'"$BACK"'"}'
call --show id,state,signed_at POST "/v1/orders/$BACK/signing" -H "$MKT"

step "The buyer asks to return it within 7 days, no reason needed"
call POST "/v1/orders/$BACK/cases" -H "$BUYER" -H "$JSON" -H "Idempotency-Key: case-$BACK" \
  -d '{"id": "case-'"$BACK"'", "type": "return_no_reason", "sub_order_id": "'"$BACK"'-1",
       "reason": "changed my mind"}'

step "The merchant, which had 24 hours to review it (deadline_set on the feed), approves"
call --show id,state,goods,agreed POST "/v1/cases/case-$BACK/accept" -H "$MERCHANT"

step "A doorstep pickup (freight 30.00): the carrier gets 25.00 (the cap), the buyer 360.00 now"
# Quick refund: the buyer is owed its money at pickup, from escrow, before the merchant
# has the goods back.
call --show id,state,goods,official_pickup,refunded,quick_refunded \
  POST "/v1/cases/case-$BACK/pickup" -H "$MKT" -H "$JSON" -d '{"carrier": "SF", "freight": "30.00"}'

step "The case: state, goods, money (owed 385.00, paid 0.00), deadline, history, decisions"
buyerguard cases show "case-$BACK"

step "What is overdue, and the ledger re-derived from its postings"
buyerguard instructions overdue
buyerguard ledger check
printf '\n%stour done%s\n' "$BOLD" "$PLAIN"
