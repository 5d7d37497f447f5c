# Before propagating new keys, backup current keys
#!/bin/bash
# backup_current_keys.sh

SITES_FILE=$1
BACKUP_FILE="keys_backup_$(date +%Y%m%d_%H%M%S).json"

echo "{" > $BACKUP_FILE
first=true

while IFS= read -r site; do
  [[ "$site" =~ ^#.*$ ]] && continue
  [[ -z "$site" ]] && continue
  
  pk=$(curl -s "$site/api/stripe-pk" | jq -r '.publishable_key')
  
  if [ "$first" = true ]; then
    first=false
  else
    echo "," >> $BACKUP_FILE
  fi
  
  echo "  \"$site\": \"$pk\"" >> $BACKUP_FILE
done < "$SITES_FILE"

echo "}" >> $BACKUP_FILE
echo "Backup saved to $BACKUP_FILE"
