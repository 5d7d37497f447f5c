#!/bin/bash
# verify_propagation.sh
# Verifies that Stripe keys were successfully propagated

SITES_FILE=$1

if [ -z "$SITES_FILE" ]; then
  echo "Usage: $0 <sites-file>"
  exit 1
fi

echo "Verifying Stripe key propagation..."
echo "=================================="

success=0
failed=0

while IFS= read -r site; do
  # Skip comments and empty lines
  [[ "$site" =~ ^#.*$ ]] && continue
  [[ -z "$site" ]] && continue
  
  echo -n "Checking $site... "
  
  response=$(curl -s -w "\n%{http_code}" "$site/api/stripe-pk" 2>/dev/null)
  http_code=$(echo "$response" | tail -n1)
  body=$(echo "$response" | head -n-1)
  
  if [ "$http_code" = "200" ]; then
    pk=$(echo "$body" | grep -o '"publishable_key":"[^"]*"' | cut -d'"' -f4)
    if [ -n "$pk" ]; then
      echo "‚úÖ OK (${pk:0:15}...)"
      ((success++))
    else
      echo "‚ö†Ô∏è  No key found"
      ((failed++))
    fi
  else
    echo "‚ùå Failed (HTTP $http_code)"
    ((failed++))
  fi
done < "$SITES_FILE"

echo "=================================="
echo "Success: $success"
echo "Failed: $failed"
echo "Total: $((success + failed))"

if [ $failed -gt 0 ]; then
  exit 1
fi
