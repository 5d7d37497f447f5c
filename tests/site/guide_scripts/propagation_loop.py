import requests

TEMPLATE_MASTER_KEY = 'template-master-key-2025'
PUBLISHABLE_KEY = 'pk_test_51Hxxxx...'

sites = [
    'https://site1.preview.artworksdigital.fr',
    'https://site2.preview.artworksdigital.fr',
]

for s in sites:
    url = f"{s.rstrip('/')}/api/export/settings/stripe_publishable_key"
    resp = requests.put(url, headers={
        'Content-Type': 'application/json',
        'X-API-Key': TEMPLATE_MASTER_KEY
    }, json={'value': PUBLISHABLE_KEY}, timeout=8)
    print(s, resp.status_code, resp.text)
