"""What the demo worlds share: their settings and output tables, firm and sales-team names, the product
catalogue and the assembly of orders into invoice lines and credit notes."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.tables import Customers, Firmographics, Transactions, column_names

log = logging.getLogger(__name__)

RETURN_PROBABILITY = 0.045
RETURN_LINE_PROBABILITY = 0.5
MAX_LINES = 15
RATINGS = ("AAA", "AA", "A", "BBB", "BB", "B", "CCC")
RATING_SHARE = np.array([0.04, 0.09, 0.18, 0.30, 0.22, 0.12, 0.05])
RATING_PAY_DAYS = np.array([12.0, 15.0, 19.0, 26.0, 35.0, 47.0, 62.0])
# country, region, population weight, name language, legal forms
COUNTRIES = (
    ("Germany", "DACH", 0.22, "de", ("GmbH", "GmbH", "AG", "GmbH & Co. KG", "KG")),
    ("Austria", "DACH", 0.05, "de", ("GmbH", "AG", "KG")),
    ("Switzerland", "DACH", 0.04, "de", ("AG", "GmbH", "SA")),
    ("France", "Western Europe", 0.12, "fr", ("SARL", "SAS", "SA")),
    ("United Kingdom", "UK & Ireland", 0.12, "en", ("Ltd", "Ltd", "PLC", "LLP")),
    ("Ireland", "UK & Ireland", 0.02, "en", ("Ltd", "DAC")),
    ("Netherlands", "Benelux", 0.07, "nl", ("B.V.", "B.V.", "N.V.")),
    ("Belgium", "Benelux", 0.04, "fr", ("SA", "BV", "SRL")),
    ("Spain", "Southern Europe", 0.07, "es", ("S.L.", "S.A.")),
    ("Italy", "Southern Europe", 0.07, "it", ("S.r.l.", "S.p.A.")),
    ("Portugal", "Southern Europe", 0.02, "es", ("Lda.", "S.A.")),
    ("Poland", "CEE", 0.05, "pl", ("Sp. z o.o.", "S.A.")),
    ("Czech Republic", "CEE", 0.02, "pl", ("s.r.o.", "a.s.")),
    ("Sweden", "Nordics", 0.04, "no", ("AB",)),
    ("Denmark", "Nordics", 0.02, "no", ("A/S", "ApS")),
    ("Norway", "Nordics", 0.02, "no", ("AS",)),
    ("Finland", "Nordics", 0.01, "no", ("Oy", "Oyj")),
)
# fmt: off
_SURNAMES = {
    "de": (
        "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Becker", "Hoffmann", "Schäfer", "Koch",
        "Brückner", "Kessler", "Wagner", "Jäger", "Krüger", "Lorenz", "Vogt", "Hartmann", "Böhm",
    ),
    "fr": (
        "Dupont", "Martin", "Bernard", "Moreau", "Lefèvre", "Rousseau", "Girard", "Leclerc", "Durand",
        "Fournier", "Mercier", "Chevalier", "Gauthier", "Bérenger", "D'Aubigné", "L'Héritier",
    ),
    "en": (
        "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Walker", "Wright", "Hughes",
        "O'Brien", "O'Neill", "McCarthy", "Fletcher", "Baker", "Harrison", "Kelly", "Murphy",
    ),
    "nl": (
        "de Vries", "Jansen", "van Dijk", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder",
        "van den Berg", "Dekker", "Vermeulen", "Hendriks", "Peeters",
    ),
    "es": (
        "García", "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Peña", "Muñoz", "Núñez",
        "Álvarez", "Romero", "Silva", "Gonçalves", "Ibáñez",
    ),
    "it": (
        "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco",
        "D'Angelo", "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Lombardi",
    ),
    "pl": (
        "Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kowalczyk", "Kamiński", "Lewandowski", "Zieliński",
        "Novák", "Dvořák", "Černý", "Procházka", "Szymański", "Woźniak",
    ),
    "no": (
        "Andersson", "Johansson", "Karlsson", "Nilsson", "Hansen", "Jensen", "Sørensen", "Nielsen",
        "Larsen", "Østergaard", "Virtanen", "Mäkinen", "Bjørnstad", "Lindqvist", "Åberg",
    ),
}
_SECTOR_WORDS = {
    "de": (
        "Logistik", "Technik", "Bau", "Handel", "Metallbau", "Elektro", "Versand", "Systeme", "Werkzeuge",
        "Maschinenbau", "Haustechnik", "Gastronomie", "Reinigung", "Verpackung", "Industriebedarf",
    ),
    "fr": (
        "Logistique", "Services", "Industrie", "Distribution", "Bâtiment", "Équipements", "Nettoyage",
        "Emballages", "Fournitures", "Transports", "Mécanique", "Électricité",
    ),
    "en": (
        "Logistics", "Trading", "Supplies", "Engineering", "Services", "Solutions", "Industries",
        "Construction", "Distribution", "Packaging", "Hospitality", "Facilities", "Fabrication",
    ),
    "nl": (
        "Logistiek", "Techniek", "Bouw", "Handel", "Installatie", "Verpakkingen", "Groothandel",
        "Transport", "Metaal", "Schoonmaak",
    ),
    "es": (
        "Logística", "Suministros", "Construcciones", "Distribución", "Ingeniería", "Servicios",
        "Embalajes", "Transportes", "Industrias", "Instalaciones",
    ),
    "it": (
        "Logistica", "Forniture", "Costruzioni", "Distribuzione", "Ingegneria", "Servizi", "Imballaggi",
        "Trasporti", "Industrie", "Impianti", "Meccanica",
    ),
    "pl": (
        "Logistyka", "Budownictwo", "Handel", "Technika", "Dystrybucja", "Transport", "Instalace",
        "Strojírny", "Opakowania", "Serwis",
    ),
    "no": (
        "Logistik", "Bygg", "Teknik", "Handel", "Industri", "Transport", "Förpackningar", "Service",
        "Maskin", "Installation",
    ),
}
_STEMS = (
    "Nordwind", "Alpen", "Rhein", "Atlas", "Meridian", "Polaris", "Falken", "Baltic", "Sonnen", "Adler",
    "Nova", "Vektor", "Helix", "Orion", "Aurora", "Kronos", "Silva", "Delta", "Europa", "Lumière",
    "Bellavista", "Fjord", "Zenit", "Stella", "Aquila", "Vulcan", "Phoenix", "Horizon", "Blue Harbour",
    "Greenfield", "Ironbridge", "Eichenhof", "Øresund", "Sierra", "Tramontana",
)
_QUOTED = (
    'Bäckerei "Zum Anker"', 'Gasthaus "Zur Post"', '"Blue Harbour" Trading', 'Hotel "Bellevue"',
    'Café "Les Deux Frères"', 'Trattoria "Da Mario"',
)
_FORMULA_NAMES = (
    '=HYPERLINK("http://example.com","Click me")', "=1+1 Consulting", "=SUM(A1:A9) Ltd", "+49 Trading GmbH",
    "+Plus Partners", "-Minus Co", "-12 Degrees Cold Storage", "@Home Supplies", "@Work Office Solutions",
)
_HTML_NAMES = (  # markup, and a right-to-left override that would show "Acme Trading gnp.exe" as "...exe.png"
    "Acme <script>alert(1)</script> Ltd", "Acme Trading \u202egnp.exe", "<img src=x onerror=alert(1)> Tools",
    "<b>Bold</b> Trading GmbH", "Evil <script>alert(1)</script> Supplies", "Fancy <b>Print</b> Services SARL",
)
CHANNELS = ("Field sales", "Inside sales", "Web shop", "Partner", "Trade fair")
CHANNEL_SMALL = np.array([0.12, 0.33, 0.33, 0.12, 0.10])  # how firms below 200 employees came to us
CHANNEL_LARGE = np.array([0.45, 0.25, 0.07, 0.13, 0.10])  # larger firms mostly via field sales
_REP_FIRST = (
    "Anna", "Lukas", "Sophie", "Jonas", "Marie", "Felix", "Laura", "Elias", "Clara", "Noah", "Emma", "Paul",
    "Julia", "Finn", "Lea", "Ben", "Mia", "Leon", "Hannah", "Tom", "Sara", "Max", "Nina", "David", "Lina",
    "Jan", "Eva", "Tim", "Ida", "Oskar",
)
_REP_LAST = (
    "Keller", "Braun", "Wolf", "Neumann", "Schwarz", "Zimmermann", "Krause", "Hofmann", "Lange", "Schmitt",
    "Werner", "Peters", "Frank", "Berger", "Kaiser", "Fuchs", "Scholz", "Roth", "Haas", "Sommer", "Graf",
    "Winter", "Brandt", "Vogel", "Otto", "Simon", "Dietrich", "Kraus", "Huber",
)
_CATEGORY_NAMES = (
    "Fasteners", "Packaging", "Safety gear", "Cleaning", "Office supplies", "Hand tools", "Power tools",
    "Adhesives", "Electrical", "Lighting", "Plumbing", "Workwear", "Lubricants", "Abrasives",
    "Storage & shelving", "Labels & printing", "First aid", "Hygiene paper", "Catering supplies",
    "IT accessories", "Welding", "Pneumatics", "Hoses & fittings", "Measuring tools", "Paints & coatings",
    "Batteries", "Cable ties", "Gloves", "Ladders", "Material handling",
)
# fmt: on

ADOPTION, PROJECTS = "adoption", "projects"  # the built-in worlds (demo/simulator.py, demo/project_simulator.py)


@dataclass(frozen=True)
class SimulationSettings:
    """The world, size and period to simulate."""

    n_customers: int
    start: pd.Timestamp  # first day of the simulated period
    end: pd.Timestamp  # exclusive end
    n_categories: int
    n_products: int  # at least one per category
    n_account_owners: int
    world: str = ADOPTION


@dataclass(frozen=True)
class DemoTables:
    """A simulated world's tables; each world's module docstring describes them and its ground truth."""

    customers: pd.DataFrame
    transactions: pd.DataFrame
    firmographics: pd.DataFrame  # yearly snapshots
    ground_truth: pd.DataFrame  # latent parameters (and events) the world's oracle reads


def ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """prefix + the numbers zero-padded to `width` digits."""
    digits = pd.Series(numbers, dtype="int64").astype(str).str.zfill(width)
    return (prefix + digits).to_numpy(dtype=object)


# --------------------------------------------------------------------------------------------- customers
def company_names(rng: np.random.Generator, country_idx: np.ndarray) -> np.ndarray:
    """Names from country-specific word lists, plus a few spreadsheet-formula and HTML hazards."""
    n = len(country_idx)
    names = np.empty(n, dtype=object)
    pattern = rng.choice(6, size=n, p=[0.42, 0.22, 0.13, 0.12, 0.06, 0.05])
    for ci, (_, _, _, language, legal) in enumerate(COUNTRIES):  # loop over countries, not customers
        idx = np.flatnonzero(country_idx == ci)
        if idx.size == 0:
            continue
        sur = np.array(_SURNAMES[language], dtype=object)
        sector = np.array(_SECTOR_WORDS[language], dtype=object)
        stems = np.array(_STEMS, dtype=object)
        k = idx.size
        i1 = rng.integers(0, len(sur), k)
        s1, s2 = sur[i1], sur[(i1 + rng.integers(1, len(sur), k)) % len(sur)]  # two different surnames
        sec, stem = rng.choice(sector, k), rng.choice(stems, k)
        form = rng.choice(np.array(legal, dtype=object), k)
        sons = {
            "de": "Söhne",
            "fr": "Fils",
            "en": "Sons",
            "nl": "Zonen",
            "es": "Hijos",
            "it": "Figli",
            "pl": "Synowie",
            "no": "Søner",
        }[language]
        quoted = rng.choice(np.array(_QUOTED, dtype=object), k)
        options = np.stack(
            [
                stem + " " + sec + " " + form,
                s1 + " " + sec + " " + form,
                s1 + " & " + s2 + " " + form,
                s1 + " & " + sons + " " + form,
                s1 + ", " + s2 + " & Partners " + form,
                quoted + " " + form,
            ]
        )
        names[idx] = options[pattern[idx], np.arange(k)]
    hazards = rng.permutation(n)
    n_formula = min(max(1, round(0.005 * n)), n // 10)  # ~0.5 % spreadsheet-formula look-alikes
    n_html = min(max(2, round(0.001 * n)), n // 10)  # a few HTML/script injections
    names[hazards[:n_formula]] = rng.choice(np.array(_FORMULA_NAMES, dtype=object), n_formula)
    html_idx = hazards[n_formula : n_formula + n_html]
    names[html_idx] = np.array(_HTML_NAMES, dtype=object)[np.arange(n_html) % len(_HTML_NAMES)]
    return names


def rep_names(n_reps: int) -> list[str]:
    first, last = len(_REP_FIRST), len(_REP_LAST)
    names = [f"{_REP_FIRST[i % first]} {_REP_LAST[(i * 7 + i // first) % last]}" for i in range(n_reps)]
    if len(set(names)) < n_reps:  # very large teams: make them unique
        names = [f"{name} ({i + 1})" for i, name in enumerate(names)]
    return names


def _category_names(n_categories: int) -> list[str]:
    base = list(_CATEGORY_NAMES)
    return [
        base[i % len(base)] + ("" if i < len(base) else f" {i // len(base) + 1}") for i in range(n_categories)
    ]

# --------------------------------------------------------------------------------------------- transactions
def catalogue(settings: SimulationSettings, rng: np.random.Generator) -> dict[str, np.ndarray]:
    n_cat, n_prod = settings.n_categories, settings.n_products
    if n_prod < n_cat:
        raise ValueError(f"n_products ({n_prod}) must be >= n_categories ({n_cat})")
    extra = rng.multinomial(n_prod - n_cat, rng.dirichlet(np.full(n_cat, 3.0)))
    counts = 1 + extra
    product_cat = np.repeat(np.arange(n_cat), counts)
    cat_price = np.exp(rng.normal(np.log(14.0), 0.8, n_cat))
    list_price = np.round(np.maximum(cat_price[product_cat] * np.exp(rng.normal(0, 0.7, n_prod)), 0.3), 2)
    return {
        "cat_start": np.cumsum(counts) - counts,
        "cat_count": counts,
        "product_cat": product_cat,
        "list_price": list_price,
    }


def assemble_transactions(
    settings: SimulationSettings, rng: np.random.Generator, lines: pd.DataFrame, orders: dict
) -> pd.DataFrame:
    """Invoices and credit notes as one line table; document numbers follow time order."""
    end_us = np.datetime64(settings.end.to_datetime64(), "us")
    line_order = lines["order"].to_numpy()
    # orders that kept at least one line (line_order is non-decreasing; cheaper than np.unique on millions)
    used = line_order[np.concatenate([[True], line_order[1:] != line_order[:-1]])] if len(line_order) else line_order
    chrono = used[np.argsort(orders["ts"][used], kind="stable")]
    order_to_inv = np.full(len(orders["ts"]), -1, dtype=np.int64)
    order_to_inv[chrono] = np.arange(len(chrono))
    line_inv = order_to_inv[line_order]
    inv_ts, inv_cust, inv_pay = orders["ts"][chrono], orders["cust"][chrono], orders["days_to_pay"][chrono]
    n_inv = len(chrono)

    # credit notes: a share of invoices returns a random subset of its lines some business days later
    inv_cn = rng.random(n_inv) < RETURN_PROBABILITY
    lag = rng.integers(2, 26, n_inv)
    cn_ts = np.busday_offset(inv_ts.astype("datetime64[D]"), lag, roll="forward").astype("datetime64[us]")
    cn_ts = cn_ts + rng.integers(7 * 3600, 18 * 3600, n_inv).astype("timedelta64[s]")
    line_back = (
        inv_cn[line_inv] & (rng.random(len(line_inv)) < RETURN_LINE_PROBABILITY) & (cn_ts < end_us)[line_inv]
    )
    back = np.flatnonzero(line_back)
    back_inv = line_inv[back]
    cn_used = np.flatnonzero(np.bincount(back_inv, minlength=n_inv))
    inv_to_cn = np.full(n_inv, -1, dtype=np.int64)
    inv_to_cn[cn_used[np.argsort(cn_ts[cn_used], kind="stable")]] = np.arange(len(cn_used))
    n_cn = len(cn_used)

    is_cn = np.concatenate([np.zeros(len(line_inv), bool), np.ones(len(back), bool)])
    number = np.concatenate([line_inv, inv_to_cn[back_inv]])
    doc_inv = np.concatenate([line_inv, back_inv])
    ts = np.concatenate([inv_ts[line_inv], cn_ts[back_inv]])
    product = lines["product"].to_numpy()
    category = lines["category"].to_numpy()
    qty = lines["quantity"].to_numpy()
    price = lines["unit_price"].to_numpy()
    product, category = np.concatenate([product, product[back]]), np.concatenate([category, category[back]])
    quantity, unit_price = np.concatenate([qty, -qty[back]]), np.concatenate([price, price[back]])
    pay = np.concatenate([inv_pay[line_inv], np.full(len(back), np.nan)])
    # sort by timestamp, then invoice_id ("CN..." sorts before "INV..."), keeping line order
    order = np.lexsort((np.arange(len(is_cn)), number, ~is_cn, ts.astype(np.int64)))

    width = max(7, len(str(max(n_inv, n_cn))))
    doc_ids = pd.array(
        np.concatenate(
            [ids("INV", np.arange(1, n_inv + 1), width), ids("CN", np.arange(1, n_cn + 1), width)]
        ),
        dtype="str",
    )
    n_cust = settings.n_customers
    cust_ids = pd.array(ids("C", np.arange(1, n_cust + 1), max(6, len(str(n_cust)))), dtype="str")
    prod_ids = pd.array(
        ids("P", np.arange(1, settings.n_products + 1), max(4, len(str(settings.n_products)))), dtype="str"
    )
    cat_names = pd.array(np.array(_category_names(settings.n_categories), dtype=object), dtype="str")
    quantity, unit_price = quantity[order], unit_price[order]
    return pd.DataFrame(
        {
            "invoice_id": doc_ids.take(np.where(is_cn, n_inv + number, number)[order]),
            "customer_id": cust_ids.take(inv_cust[doc_inv][order]),
            "timestamp": ts[order],
            "product_id": prod_ids.take(product[order]),
            "category": cat_names.take(category[order]),
            "quantity": quantity.astype(np.int64),
            "unit_price": unit_price,
            "amount": np.round(quantity * unit_price, 2),
            "days_to_pay": pay[order],
        }
    )




def demo_tables(customers: pd.DataFrame, transactions: pd.DataFrame, firmographics: pd.DataFrame,
                ground_truth: pd.DataFrame) -> DemoTables:
    """The tables in their models' column order; customers get the latest snapshot's employees and revenue
    and the day of their first transaction line (NaT if they never ordered)."""
    last = firmographics.groupby("customer_id", sort=False).tail(1).set_index("customer_id")
    customers = customers.copy()
    customers.insert(4, "employees", last["employees"].reindex(customers["customer_id"]).to_numpy())
    customers.insert(5, "annual_revenue", last["annual_revenue"].reindex(customers["customer_id"]).to_numpy())
    first = transactions.groupby("customer_id", sort=False)["timestamp"].min().dt.normalize()
    customers["first_order_date"] = first.reindex(customers["customer_id"]).to_numpy().astype("datetime64[us]")
    log.info("demo data: %d customers, %d transaction lines", len(customers), len(transactions))
    return DemoTables(
        customers=customers[column_names(Customers)],
        transactions=transactions[column_names(Transactions)],
        firmographics=firmographics[column_names(Firmographics)],
        ground_truth=ground_truth,
    )
