"""Build ``fr/LC_MESSAGES/messages.po`` and ``.mo`` from ``messages.pot`` and ``FR``.

Run from ``src/stripefleet/site`` after changing a page's text::

    ../../../.venv/bin/pybabel extract -F translations/babel.cfg -k _ -k gettext \
        -o translations/messages.pot admin storefront templates
    ../../../.venv/bin/python translations/make_fr.py
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

HERE = Path(__file__).resolve().parent

FR = {
    "Not saved: %(field)s %(message)s": "Non enregistré : %(field)s %(message)s",
    "Product saved.": "Produit enregistré.",
    "Product deactivated.": "Produit désactivé.",
    "%(name)s was added to your cart.": "%(name)s a été ajouté à votre panier.",
    "Log in to pay.": "Connectez-vous pour payer.",
    "Please check the field %(field)s.": "Vérifiez le champ %(field)s.",
    "Sorry, an item of your cart is no longer available.":
        "Désolé, un article de votre panier n'est plus disponible.",
    "Payment is unavailable for the moment; please try again later.":
        "Le paiement est momentanément indisponible ; réessayez plus tard.",
    "Wrong e-mail address or password.": "Adresse e-mail ou mot de passe incorrect.",
    "Registration refused: %(reason)s": "Inscription refusée : %(reason)s",
    "Shop": "Boutique", "Catalogue": "Catalogue", "Cart": "Panier", "Admin": "Administration",
    "Log out": "Se déconnecter", "Log in": "Se connecter", "Register": "Créer un compte",
    "Products": "Produits", "Orders": "Commandes", "Webhook events": "Événements webhook",
    "Received": "Reçu", "Status": "Statut", "Attempts": "Tentatives", "Note": "Note",
    "Created": "Créée", "E-mail": "E-mail", "Amount": "Montant", "Review": "À vérifier",
    "Items": "Articles", "Name": "Nom", "Type": "Type", "product": "produit",
    "equipment": "équipement", "Price (cents)": "Prix (centimes)", "Currency": "Devise",
    "Stock (empty: unlimited)": "Stock (vide : illimité)", "Image URL": "URL de l'image",
    "Description": "Description", "Active": "Actif", "Save": "Enregistrer", "Price": "Prix",
    "Stock": "Stock", "Reserved": "Réservé", "Sold": "Vendu", "Edit": "Modifier",
    "Deactivate": "Désactiver", "Add a product": "Ajouter un produit", "Days": "Jours",
    "Quantity": "Quantité", "Add to cart": "Ajouter au panier",
    "Payment cancelled": "Paiement annulé",
    "Nothing was charged. The items stay reserved for you until the session ends.":
        "Rien n'a été débité. Les articles restent réservés pour vous jusqu'à la fin de "
        "la session.",
    "Back to the catalogue": "Retour au catalogue", "Your cart is empty.": "Votre panier est vide.",
    "Item": "Article", "Remove": "Retirer", "Total": "Total", "Your details": "Vos coordonnées",
    "Pay": "Payer", "per day": "par jour", "The catalogue is empty.": "Le catalogue est vide.",
    "Password": "Mot de passe", "Thank you": "Merci",
    "Thank you for your order": "Merci pour votre commande",
    "Payment is being confirmed…": "Paiement en cours de confirmation…",
    "Payment received: your order is confirmed.": "Paiement reçu : votre commande est confirmée.",
    "This order has expired.": "Cette commande a expiré.",
    "The payment failed.": "Le paiement a échoué.",
    "This order was refunded.": "Cette commande a été remboursée.", "Order": "Commande",
    # Dynamic msgids (customer_info fields, statuses, error codes).
    "firstName": "Prénom", "lastName": "Nom", "email": "E-mail", "phone": "Téléphone",
    "address": "Adresse", "city": "Ville", "postalCode": "Code postal", "country": "Pays",
    "pending": "en attente", "paid": "payée", "expired": "expirée", "failed": "échouée",
    "refunded": "remboursée", "processed": "traité", "ignored": "ignoré",
    "invalid_email": "adresse e-mail invalide",
    "invalid_password": "le mot de passe doit avoir au moins 8 caractères",
    "email_taken": "un compte existe déjà avec cette adresse",
}


def main() -> None:
    """Write the French catalogue; fail on a page text without a translation."""
    with open(HERE / "messages.pot", "rb") as handle:
        template = read_po(handle)
    catalog = Catalog(locale="fr", domain="messages", project="stripefleet site")
    plurals = [m.id for m in template if m.id and not isinstance(m.id, str)]
    if plurals:
        raise SystemExit(f"plural forms are not handled by this script: {plurals}")
    ids = [m.id for m in template if isinstance(m.id, str) and m.id]
    ids += [k for k in FR if k not in template]
    missing = [i for i in ids if i not in FR]
    if missing:
        raise SystemExit(f"untranslated: {missing}")
    for msgid in ids:
        catalog.add(msgid, FR[msgid])
    out = HERE / "fr" / "LC_MESSAGES"
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "messages.po", "wb") as handle:
        write_po(handle, catalog, width=100)
    with open(out / "messages.mo", "wb") as handle:
        write_mo(handle, catalog)


if __name__ == "__main__":
    main()
