"""Sleep stages, symptom severities, medication status and cycle-tracking values: each canonical
value (the app's English form) and its words in en, de, fr, es, it, nl, pt and ja.

Forms that differ only in case, spacing, punctuation or accents are one word (``match_key``),
so each is listed once.
"""

from __future__ import annotations

_UNSPECIFIED = (
    "Nicht angegeben", "Non spécifié", "Non spécifiée", "Sin especificar", "No especificado",
    "Non specificato", "Niet opgegeven", "Niet gespecificeerd", "Não especificado", "未指定",
)  # fmt: skip

SLEEP_STAGES: dict[str, tuple[str, ...]] = {
    "Asleep": (
        "Unspecified", "Asleep Unspecified", "Sleep", "Sleeping", "Schlafend", "Schlaf",
        "Eingeschlafen", "Endormi", "Endormie", "Sommeil", "Dormido", "Dormida", "Sueño",
        "Addormentato", "Addormentata", "Sonno", "Slapend", "Slaap", "In slaap", "Dormindo",
        "A dormir", "Sono", "睡眠中", "睡眠",
        *_UNSPECIFIED,
    ),
    "Core": (
        "Core Sleep", "Light", "Light Sleep", "Kern", "Kernschlaf", "Leicht", "Leichtschlaf",
        "Essentiel", "Sommeil essentiel", "Principal", "Sommeil principal", "Léger",
        "Sommeil léger", "Esencial", "Sueño esencial", "Central", "Ligero", "Sueño ligero",
        "Essenziale", "Sonno essenziale", "Principale", "Leggero", "Sonno leggero", "Kernslaap",
        "Licht", "Lichte slaap", "Essencial", "Sono essencial", "Núcleo", "Leve", "Sono leve",
        "コア", "コア睡眠", "浅い", "浅い睡眠",
    ),
    "Deep": (
        "Deep Sleep", "Tief", "Tiefschlaf", "Profond", "Sommeil profond", "Profundo",
        "Sueño profundo", "Profondo", "Sonno profondo", "Diep", "Diepe slaap", "Sono profundo",
        "深い", "深い睡眠", "深睡眠",
    ),
    "REM": (
        "REM Sleep", "REM-Schlaf", "Paradoxal", "Sommeil paradoxal", "Sueño REM", "Sonno REM",
        "REM-slaap", "Sono REM", "レム", "レム睡眠",
    ),
    "Awake": (
        "Wach", "Éveillé", "Éveillée", "Éveil", "Réveillé", "Despierto", "Despierta", "Sveglio",
        "Sveglia", "Veglia", "Wakker", "Acordado", "Acordada", "Desperto", "覚醒", "覚醒中", "起きている",
    ),
    "InBed": (
        "In Bed", "Im Bett", "Au lit", "En la cama", "En cama", "A letto", "Nel letto", "Na cama",
        "Em cama", "ベッドにいる", "ベッド内", "就床",
    ),
}  # fmt: skip

SYMPTOM_SEVERITIES: dict[str, tuple[str, ...]] = {
    "Unspecified": _UNSPECIFIED,
    "Not Present": (
        "Absent", "Nicht vorhanden", "Nicht aufgetreten", "Non présent", "No presente", "Ausente",
        "Non presente", "Assente", "Niet aanwezig", "Afwezig", "Não presente", "なし", "存在しない",
    ),
    "Present": (
        "Vorhanden", "Aufgetreten", "Présent", "Presente", "Aanwezig", "あり", "存在する",
    ),
    "Mild": (
        "Leicht", "Léger", "Légère", "Faible", "Leve", "Lieve", "Licht", "Ligeiro", "Ligeira",
        "軽度", "軽い",
    ),
    "Moderate": (
        "Mittel", "Mäßig", "Mittelschwer", "Modéré", "Modérée", "Moyen", "Moderado", "Moderada",
        "Moderato", "Moderata", "Medio", "Matig", "Gemiddeld", "中等度", "中程度",
    ),
    "Severe": (
        "Schwer", "Stark", "Schwerwiegend", "Sévère", "Grave", "Intense", "Severo", "Severa",
        "Intenso", "Intensa", "Forte", "Ernstig", "Hevig", "Zwaar", "重度", "重い",
    ),
}  # fmt: skip

MEDICATION_STATUSES: dict[str, tuple[str, ...]] = {
    "Taken": (
        "Eingenommen", "Genommen", "Pris", "Prise", "Tomado", "Tomada", "Assunto", "Assunta",
        "Preso", "Presa", "Ingenomen", "Genomen", "服用済み", "服用した", "服用",
    ),
    "Skipped": (
        "Übersprungen", "Ausgelassen", "Ignoré", "Sauté", "Omis", "Omitido", "Omitida", "Saltado",
        "Saltada", "Saltato", "Saltata", "Ignorato", "Overgeslagen", "Ignorado", "Ignorada",
        "Pulado", "Pulada", "スキップ", "スキップ済み", "スキップした",
    ),
    "Snoozed": (
        "Schlummern", "Schlummert", "Verschoben", "Später erinnern", "Reporté", "Rappel différé",
        "Pospuesto", "Aplazado", "Posticipato", "Rimandato", "Gesluimerd", "Sluimeren",
        "Uitgesteld", "Adiado", "Soneca", "スヌーズ", "スヌーズ済み",
    ),
    "Not Logged": (
        "Nicht protokolliert", "Nicht erfasst", "Nicht eingetragen", "Non enregistré",
        "Non consigné", "No registrado", "Non registrato", "Niet geregistreerd", "Niet gelogd",
        "Não registado", "Não registrado", "未記録", "記録なし",
    ),
}  # fmt: skip

# One table for every cycle-tracking record: menstrual flow, cervical mucus quality, ovulation,
# pregnancy and progesterone test results, sexual activity protection.
CYCLE_VALUES: dict[str, tuple[str, ...]] = {
    "Unspecified": _UNSPECIFIED,
    "None": (
        "Kein", "Keine", "Aucun", "Aucune", "Ninguno", "Ninguna", "Nessuno", "Geen", "Nenhum",
        "なし",
    ),
    "Light": (
        "Leicht", "Schwach", "Léger", "Légère", "Faible", "Ligero", "Leve", "Leggero", "Licht",
        "少ない", "軽い",
    ),
    "Medium": (
        "Mittel", "Moyen", "Moyenne", "Moderado", "Medio", "Médio", "Gemiddeld", "Matig", "普通",
        "中程度",
    ),
    "Heavy": (
        "Stark", "Abondant", "Abondante", "Abundante", "Intenso", "Abbondante", "Zwaar", "Hevig",
        "Forte", "多い",
    ),
    "Dry": (
        "Trocken", "Sec", "Sèche", "Seco", "Seca", "Secco", "Secca", "Droog", "乾燥",
    ),
    "Sticky": (
        "Klebrig", "Collant", "Collante", "Pegajoso", "Pegajosa", "Appiccicoso", "Kleverig", "粘着性",
    ),
    "Creamy": (
        "Cremig", "Crémeux", "Crémeuse", "Cremoso", "Cremosa", "Romig", "クリーム状",
    ),
    "Watery": (
        "Wässrig", "Aqueux", "Aqueuse", "Acuoso", "Acquoso", "Waterig", "Aquoso", "水っぽい",
    ),
    "Egg White": (
        "Eiweißartig", "Eiklar", "Blanc d'œuf", "Clara de huevo", "Albume", "Bianco d'uovo",
        "Eiwitachtig", "Clara de ovo", "卵白状",
    ),
    "Negative": (
        "Negativ", "Négatif", "Negativo", "Negatief", "陰性",
    ),
    "Positive": (
        "Positiv", "Positif", "Positivo", "Positief", "陽性",
    ),
    "Indeterminate": (
        "Unbestimmt", "Unklar", "Indéterminé", "Indeterminado", "Indeterminato", "Onbepaald",
        "判定不能", "不確定",
    ),
    "LH Surge": (
        "LH-Anstieg", "Pic de LH", "Pico de LH", "Picco di LH", "LH-piek", "LHサージ",
    ),
    "Estrogen Surge": (
        "Östrogenanstieg", "Pic d'œstrogènes", "Pico de estrógeno", "Picco di estrogeni",
        "Oestrogeenpiek", "Pico de estrogénio", "Pico de estrogênio", "エストロゲンサージ",
    ),
    "Protection Used": (
        "Geschützt", "Verhütung verwendet", "Avec protection", "Con protección", "Con protezione",
        "Met bescherming", "Com proteção", "避妊あり",
    ),
    "Protection Not Used": (
        "Ungeschützt", "Keine Verhütung", "Sans protection", "Sin protección", "Senza protezione",
        "Zonder bescherming", "Sem proteção", "避妊なし",
    ),
}  # fmt: skip
