"""State of mind: kinds, labels, associations and valence classifications. Canonical values are
HealthKit's own names in snake_case (the form of the app's English ``valenceClassification``);
each is followed by its words in en, de, fr, es, it, nl, pt and ja."""

from __future__ import annotations

KINDS: dict[str, tuple[str, ...]] = {
    "momentary_emotion": (
        "Momentary Emotion", "Emotion", "Momentane Emotion", "Gefühl", "Émotion du moment",
        "Émotion momentanée", "Emoción momentánea", "Emoción", "Emozione momentanea", "Emozione",
        "Momentane emotie", "Emotie", "Emoção momentânea", "Emoção", "一時的な感情", "感情",
    ),
    "daily_mood": (
        "Daily Mood", "Mood", "Tägliche Stimmung", "Stimmung", "Humeur quotidienne", "Humeur",
        "Estado de ánimo diario", "Estado de ánimo", "Umore giornaliero", "Umore",
        "Dagelijkse stemming", "Stemming", "Humor diário", "Humor", "毎日の気分", "気分",
    ),
}  # fmt: skip

VALENCE_CLASSIFICATIONS: dict[str, tuple[str, ...]] = {
    "very_unpleasant": (
        "Sehr unangenehm", "Très désagréable", "Muy desagradable", "Molto sgradevole",
        "Zeer onaangenaam", "Muito desagradável", "とても不快",
    ),
    "unpleasant": (
        "Unangenehm", "Désagréable", "Desagradable", "Sgradevole", "Onaangenaam", "Desagradável",
        "不快",
    ),
    "slightly_unpleasant": (
        "Etwas unangenehm", "Leicht unangenehm", "Légèrement désagréable",
        "Ligeramente desagradable", "Leggermente sgradevole", "Enigszins onaangenaam",
        "Een beetje onaangenaam", "Ligeiramente desagradável", "やや不快",
    ),
    "neutral": (
        "Neutre", "Neutro", "Neutrale", "Neutraal", "どちらでもない", "ニュートラル",
    ),
    "slightly_pleasant": (
        "Etwas angenehm", "Leicht angenehm", "Légèrement agréable", "Ligeramente agradable",
        "Leggermente piacevole", "Enigszins aangenaam", "Een beetje aangenaam",
        "Ligeiramente agradável", "やや快適",
    ),
    "pleasant": (
        "Angenehm", "Agréable", "Agradable", "Piacevole", "Aangenaam", "Agradável", "快適",
    ),
    "very_pleasant": (
        "Sehr angenehm", "Très agréable", "Muy agradable", "Molto piacevole", "Zeer aangenaam",
        "Muito agradável", "とても快適",
    ),
}  # fmt: skip

LABELS: dict[str, tuple[str, ...]] = {
    "amazed": (
        "Erstaunt", "Verblüfft", "Émerveillé", "Stupéfait", "Asombrado", "Asombrada", "Stupito",
        "Meravigliato", "Verbaasd", "Maravilhado", "Espantado", "驚嘆",
    ),
    "amused": (
        "Amüsiert", "Amusé", "Divertido", "Divertida", "Divertito", "Geamuseerd", "Entretido",
        "愉快", "面白い",
    ),
    "angry": (
        "Wütend", "Zornig", "En colère", "Fâché", "Enojado", "Enfadado", "Arrabbiato", "Boos",
        "Woedend", "Zangado", "怒り", "怒っている",
    ),
    "annoyed": (
        "Genervt", "Verärgert", "Agacé", "Contrarié", "Molesto", "Molesta", "Infastidito",
        "Geërgerd", "Aborrecido", "Incomodado", "うんざり",
    ),
    "anxious": (
        "Ängstlich", "Nervös", "Anxieux", "Anxieuse", "Ansioso", "Ansiosa", "Angstig", "Nerveus",
        "不安",
    ),
    "ashamed": (
        "Beschämt", "Honteux", "Honteuse", "Avergonzado", "Avergonzada", "Vergognoso", "Beschaamd",
        "Envergonhado", "恥じている",
    ),
    "brave": (
        "Mutig", "Courageux", "Valiente", "Coraggioso", "Dapper", "Moedig", "Corajoso", "勇敢",
    ),
    "calm": (
        "Ruhig", "Gelassen", "Calme", "Tranquilo", "Calmo", "Tranquillo", "Kalm", "Rustig",
        "落ち着いた", "冷静",
    ),
    "confident": (
        "Selbstbewusst", "Zuversichtlich", "Confiant", "Confiante", "Seguro", "Segura", "Sicuro",
        "Fiducioso", "Zelfverzekerd", "自信がある", "自信",
    ),
    "content": (
        "Zufrieden", "Contente", "Contento", "Contenta", "Tevreden", "満ち足りた",
    ),
    "disappointed": (
        "Enttäuscht", "Déçu", "Déçue", "Decepcionado", "Decepcionada", "Deluso", "Delusa",
        "Teleurgesteld", "Desapontado", "がっかり", "失望",
    ),
    "discouraged": (
        "Entmutigt", "Découragé", "Desanimado", "Desanimada", "Scoraggiato", "Ontmoedigd",
        "Desencorajado", "落胆",
    ),
    "disgusted": (
        "Angewidert", "Dégoûté", "Asqueado", "Disgustado", "Disgustato", "Walgend", "Enjoado",
        "Repugnado", "嫌悪",
    ),
    "drained": (
        "Erschöpft", "Ausgelaugt", "Épuisé", "Vidé", "Agotado", "Agotada", "Esausto",
        "Prosciugato", "Uitgeput", "Leeg", "Esgotado", "Exausto", "疲れ果てた", "消耗",
    ),
    "embarrassed": (
        "Verlegen", "Gêné", "Embarrassé", "Apenado", "Cohibido", "Imbarazzato", "Constrangido",
        "恥ずかしい",
    ),
    "excited": (
        "Aufgeregt", "Begeistert", "Excité", "Enthousiaste", "Emocionado", "Emocionada",
        "Entusiasta", "Eccitato", "Opgewonden", "Enthousiast", "Animado", "Empolgado", "ワクワク",
        "興奮",
    ),
    "frustrated": (
        "Frustriert", "Frustré", "Frustrado", "Frustrato", "Gefrustreerd", "もどかしい", "欲求不満",
    ),
    "grateful": (
        "Dankbar", "Reconnaissant", "Agradecido", "Grato", "Riconoscente", "Dankbaar", "感謝",
    ),
    "guilty": (
        "Schuldig", "Coupable", "Culpable", "Colpevole", "In colpa", "Culpado", "罪悪感",
    ),
    "happy": (
        "Glücklich", "Froh", "Heureux", "Heureuse", "Feliz", "Felice", "Blij", "Gelukkig", "幸せ",
        "うれしい",
    ),
    "hopeful": (
        "Hoffnungsvoll", "Plein d'espoir", "Esperanzado", "Speranzoso", "Hoopvol", "Esperançoso",
        "希望に満ちた", "希望",
    ),
    "hopeless": (
        "Hoffnungslos", "Désespéré", "Sans espoir", "Desesperanzado", "Sin esperanza",
        "Senza speranza", "Disperato", "Hopeloos", "Sem esperança", "Desesperançado", "絶望",
    ),
    "indifferent": (
        "Gleichgültig", "Indifférent", "Indiferente", "Indifferente", "Onverschillig", "無関心",
    ),
    "irritated": (
        "Gereizt", "Irritiert", "Irrité", "Irritado", "Irritato", "Geïrriteerd", "Prikkelbaar",
        "イライラ", "苛立ち",
    ),
    "jealous": (
        "Eifersüchtig", "Neidisch", "Jaloux", "Jalouse", "Celoso", "Celosa", "Geloso", "Gelosa",
        "Jaloers", "Ciumento", "嫉妬",
    ),
    "joyful": (
        "Freudig", "Fröhlich", "Joyeux", "Joyeuse", "Alegre", "Gioioso", "Allegro", "Vrolijk",
        "Blijmoedig", "喜び", "楽しい",
    ),
    "lonely": (
        "Einsam", "Seul", "Seule", "Solo", "Sola", "Solitario", "Eenzaam", "Sozinho", "Solitário",
        "孤独", "寂しい",
    ),
    "overwhelmed": (
        "Überwältigt", "Überfordert", "Dépassé", "Submergé", "Abrumado", "Abrumada", "Sopraffatto",
        "Overweldigd", "Sobrecarregado", "Assoberbado", "圧倒",
    ),
    "passionate": (
        "Leidenschaftlich", "Passionné", "Apasionado", "Appassionato", "Gepassioneerd",
        "Hartstochtelijk", "Apaixonado", "情熱的",
    ),
    "peaceful": (
        "Friedlich", "Paisible", "Serein", "Sereine", "En paz", "Sereno", "In pace", "Vredig",
        "Em paz", "平和", "穏やか",
    ),
    "proud": (
        "Stolz", "Fier", "Fière", "Orgulloso", "Orgullosa", "Orgoglioso", "Trots", "Orgulhoso",
        "誇らしい", "誇り",
    ),
    "relieved": (
        "Erleichtert", "Soulagé", "Aliviado", "Sollevato", "Opgelucht", "ほっとした", "安心",
    ),
    "sad": (
        "Traurig", "Triste", "Verdrietig", "悲しい",
    ),
    "satisfied": (
        "Befriedigt", "Erfüllt", "Satisfait", "Satisfecho", "Soddisfatto", "Voldaan", "Satisfeito",
        "満足",
    ),
    "scared": (
        "Verängstigt", "Erschrocken", "Effrayé", "Apeuré", "Asustado", "Asustada", "Spaventato",
        "Impaurito", "Bang", "Assustado", "Com medo", "怖い", "恐怖",
    ),
    "stressed": (
        "Gestresst", "Stressé", "Estresado", "Stressato", "Gestrest", "Estressado", "ストレス",
    ),
    "surprised": (
        "Überrascht", "Surpris", "Sorprendido", "Sorpreso", "Verrast", "Surpreso", "Surpreendido",
        "驚いた", "びっくり",
    ),
    "worried": (
        "Besorgt", "Inquiet", "Inquiète", "Preocupado", "Preoccupato", "Bezorgd", "Ongerust", "心配",
    ),
}  # fmt: skip

ASSOCIATIONS: dict[str, tuple[str, ...]] = {
    "community": (
        "Gemeinschaft", "Communauté", "Comunidad", "Comunità", "Gemeenschap", "Comunidade",
        "コミュニティ",
    ),
    "current_events": (
        "Aktuelles", "Aktuelle Ereignisse", "Nachrichten", "Actualité", "Actualités", "Actualidad",
        "Noticias", "Attualità", "Notizie", "Actualiteit", "Nieuws", "Atualidades", "Notícias",
        "時事", "ニュース",
    ),
    "dating": (
        "Dates", "Rencontres", "Citas", "Appuntamenti", "Incontri", "Daten", "Namoro", "Encontros",
        "デート",
    ),
    "education": (
        "Bildung", "Ausbildung", "Éducation", "Études", "Educación", "Estudios", "Istruzione",
        "Studio", "Educatie", "Onderwijs", "Opleiding", "Educação", "Estudos", "教育", "学習",
    ),
    "family": (
        "Familie", "Famille", "Familia", "Famiglia", "Família", "家族",
    ),
    "fitness": (
        "Forme", "Remise en forme", "Ejercicio", "Forma física", "Attività fisica",
        "Condição física", "Exercício", "フィットネス",
    ),
    "friends": (
        "Freunde", "Amis", "Amigos", "Amici", "Vrienden", "友達", "友人",
    ),
    "health": (
        "Gesundheit", "Santé", "Salud", "Salute", "Gezondheid", "Saúde", "健康",
    ),
    "hobbies": (
        "Hobbys", "Loisirs", "Passe-temps", "Pasatiempos", "Aficiones", "Hobby", "Passatempos",
        "趣味",
    ),
    "identity": (
        "Identität", "Identité", "Identidad", "Identità", "Identiteit", "Identidade", "アイデンティティ",
    ),
    "money": (
        "Geld", "Finanzen", "Argent", "Finances", "Dinero", "Soldi", "Denaro", "Dinheiro", "お金",
    ),
    "partner": (
        "Partenaire", "Pareja", "Compagno", "Parceiro", "Companheiro", "パートナー",
    ),
    "self_care": (
        "Selbstfürsorge", "Soin de soi", "Prendre soin de soi", "Autocuidado", "Cura di sé",
        "Cura di se stessi", "Zelfzorg", "セルフケア",
    ),
    "spirituality": (
        "Spiritualität", "Spiritualité", "Espiritualidad", "Spiritualità", "Spiritualiteit",
        "Espiritualidade", "スピリチュアリティ", "精神性",
    ),
    "tasks": (
        "Aufgaben", "Tâches", "Tareas", "Compiti", "Commissioni", "Taken", "Tarefas", "タスク", "用事",
    ),
    "travel": (
        "Reisen", "Voyages", "Voyage", "Viajes", "Viajar", "Viaggi", "Reizen", "Viagens", "旅行",
    ),
    "weather": (
        "Wetter", "Météo", "Temps", "Clima", "Tiempo", "Meteo", "Weer", "Tempo", "天気",
    ),
    "work": (
        "Arbeit", "Travail", "Trabajo", "Lavoro", "Werk", "Trabalho", "仕事",
    ),
}  # fmt: skip
