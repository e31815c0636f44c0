"""A real news day for reader-level tests: twenty articles in many languages, one date.

Most carry only the canonical ``date`` line (a day, no time), so their entries
tie on the day; a few use the header forms, tags and bylines; two are written
right to left.
"""

from __future__ import annotations

DAY = "2026-03-10"

CANONICAL = {
    "fr-kiev.txt": "Le président ukrainien Zelensky a reçu à Kiev les ministres européens de la défense. "
                   "Ils ont promis de nouveaux drones avant l'été.",
    "fr-secheresse.txt": "La sécheresse frappe le sud de la France depuis trois mois. "
                         "Les agriculteurs demandent une aide d'urgence au gouvernement.",
    "de-duerre.txt": "Die Dürre in Brandenburg bedroht die Ernte des kommenden Sommers. "
                     "Die Landwirte fordern schnelle Hilfe vom Bund.",
    "de-stromnetz.txt": "Das Stromnetz im Norden wird für die Windkraft ausgebaut. "
                        "Die Bundesnetzagentur hat die Pläne am Dienstag genehmigt.",
    "es-sequia.txt": "La sequía en Andalucía obliga a restringir el agua en cuarenta municipios. "
                     "El gobierno regional anunció nuevas medidas este martes.",
    "it-energia.txt": "Il governo italiano ha presentato un piano per la rete elettrica del sud. "
                      "Le regioni chiedono più investimenti nelle energie rinnovabili.",
    "pt-clima.txt": "O governo português apresentou um plano contra a seca no Alentejo. "
                    "Os agricultores pedem apoio imediato para as colheitas.",
    "nl-dijken.txt": "De regering wil de dijken langs de kust versterken tegen hoogwater. "
                     "De waterschappen krijgen extra geld voor het onderhoud.",
    "pl-energetyka.txt": "Rząd przedstawił nowy plan dla energetyki i sieci przesyłowych. "
                         "Ministerstwo zapowiada budowę kolejnych farm wiatrowych na Bałtyku.",
    "ru-dron.txt": "Над городом ночью сбили несколько дронов, сообщили местные власти. "
                   "Пострадавших нет, повреждены два жилых дома.",
    "uk-energetyka.txt": "Енергетика України відновлюється після нічних атак на підстанції. "
                         "Укренерго повідомляє про стабільне постачання електроенергії.",
    "sv-torka.txt": "Torkan i södra Sverige hotar skörden för många bönder i år. "
                    "Regeringen lovar stöd till de drabbade gårdarna.",
    "tr-deprem.txt": "Deprem bölgesinde yeniden yapılanma çalışmaları hızla sürüyor. "
                     "Bakanlık yeni konutların yaz sonunda teslim edileceğini açıkladı.",
    "ar-tahlia.txt": "أعلنت الحكومة عن خطة جديدة لتحلية مياه البحر في المدن الساحلية. "
                     "وقال الوزير إن المشروع سيوفر المياه لملايين السكان.",
    "he-mayim.txt": "הממשלה הודיעה על תוכנית חדשה להתפלת מים בערי החוף. "
                    "השר אמר כי הפרויקט יספק מים למיליוני תושבים.",
    "zh-nengyuan.txt": "新能源汽车的销量在今年前两个月继续增长，充电桩的建设也在加快。"
                       "专家认为政策支持仍然十分重要。",
    "ja-jishin.txt": "政府は沿岸部の防災計画を見直すと発表しました。"
                     "新しい堤防の建設は来年から始まる予定です。",
}

WITH_HEADERS = {
    "en-drones.txt": "title: Drones over the Black Sea\nauthor: Ada Lovelace\ntags: Maritime, Défense\n"
                     f"date: {DAY}\n\nNaval drones patrolled the coast again on Monday, the navy said. "
                     "Officials in Kyiv called the operation a success.",
    "en-climate.md": f"---\ntitle: Climate talks resume\ndate: {DAY}\nauthor: Grace Hopper\n---\n\n"
                     "Negotiators met again to discuss **drought** relief and the climate fund. "
                     "The talks will continue next week.",
    "en-grid.txt": f"title: A grid for the wind\ndate: {DAY}T09:30:00Z\ntags: energy\n\n"
                   "The national grid operator approved new lines to carry wind power south. "
                   "Construction starts in the autumn.",
}


def write(seed, day: str = DAY) -> list[str]:
    """Write the day's twenty articles with ``seed(relpath, text)``; their paths."""
    for name, body in CANONICAL.items():
        seed(name, f" date {day} {body}\n")
    for name, text in WITH_HEADERS.items():
        seed(name, text.replace(DAY, day) + "\n")
    return [*CANONICAL, *WITH_HEADERS]
