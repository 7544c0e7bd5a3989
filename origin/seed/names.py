"""Word lists for synthetic workspaces.

First names come in families that share a prefix (alex, alexa, alexander, alexandra,
alexis...) so that prefix search and autocomplete see the many-candidates case real
directories have; a few carry accents so Unicode survives every layer end to end.
"""

from __future__ import annotations

import unicodedata

FIRST_NAMES: tuple[str, ...] = (
    # families sharing a prefix
    "Al", "Alan", "Alana", "Albert", "Alberto", "Alex", "Alexa", "Alexander", "Alexandra",
    "Alexandre", "Alexei", "Alexis", "Ali", "Alice", "Alicia", "Alison", "Ann", "Anna",
    "Annabel", "Annabelle", "Anne", "Annette", "Annie", "Anika", "Ben", "Benedict",
    "Benjamin", "Bennett", "Benny", "Chris", "Christa", "Christian", "Christina", "Christine",
    "Christoph", "Christopher", "Dan", "Dana", "Daniel", "Daniela", "Daniele", "Danielle",
    "Danny", "Em", "Emil", "Emile", "Emilia", "Emily", "Emma", "Emmanuel", "Jo", "Joan",
    "Joanna", "Joanne", "Johan", "Johanna", "John", "Johnny", "Jon", "Jonas", "Jonathan",
    "Jordan", "Josef", "Joseph", "Josephine", "Josh", "Joshua", "Kat", "Kate", "Katherine",
    "Kathleen", "Kathy", "Katie", "Katrin", "Katya", "Mar", "Mara", "Marc", "Marcel",
    "Marco", "Marcus", "Margaret", "Maria", "Mariana", "Marie", "Mario", "Mark", "Marta",
    "Martin", "Martina", "Mary", "Matt", "Matteo", "Matthew", "Matthias", "Max", "Maxim",
    "Maxime", "Maximilian", "Nat", "Natalia", "Natalie", "Nathan", "Nathaniel", "Nick",
    "Nico", "Nicola", "Nicolas", "Nicole", "Pat", "Patricia", "Patrick", "Patty", "Sam",
    "Samantha", "Samir", "Samuel", "Sandra", "Sara", "Sarah", "Sasha", "Steph", "Stefan",
    "Stefanie", "Stephanie", "Stephen", "Steve", "Steven", "Tom", "Tomas", "Tommy",
    "Vic", "Victor", "Victoria", "Vince", "Vincent", "Will", "William", "Willa", "Willem",
    # others
    "Aaron", "Abigail", "Adam", "Adriana", "Aisha", "Amara", "Amir", "Andrea", "Andrew",
    "Aria", "Arjun", "Astrid", "Ava", "Bianca", "Brian", "Camila", "Carlos", "Carmen",
    "Charlotte", "Chen", "Clara", "Daisy", "David", "Diego", "Dmitri", "Elena", "Eli",
    "Elias", "Eliza", "Elizabeth", "Ethan", "Eva", "Fatima", "Felix", "Finn", "Freya",
    "Gabriel", "Gabriela", "Grace", "Hana", "Hannah", "Harper", "Hassan", "Hugo", "Ian",
    "Ines", "Isaac", "Isabel", "Isabella", "Ivan", "Jack", "Jade", "James", "Jasmine",
    "Javier", "Jin", "Julia", "Julian", "Kai", "Kenji", "Layla", "Leila", "Leo", "Leon",
    "Liam", "Lily", "Lina", "Lucas", "Lucia", "Luis", "Luna", "Maya", "Mei", "Mia",
    "Michael", "Miguel", "Mila", "Nadia", "Noah", "Nora", "Olivia", "Omar", "Oscar",
    "Paul", "Paula", "Priya", "Rafael", "Rahul", "Rosa", "Ruby", "Ryan", "Sofia", "Sophie",
    "Tariq", "Theo", "Valentina", "Wei", "Yara", "Yuki", "Yusuf", "Zara",
    # accented, the way people write them
    "José", "Zoë", "Björn", "Chloé", "Renée", "Søren", "Jürgen", "Łukasz", "Inês",
    "François", "Noémie", "Ángel", "Çağla", "Siân", "Hélène", "Jérôme", "Åsa", "Dagný",
    "Mónica", "Andrés",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Smith", "Smithson", "Johnson", "Johansson", "Williams", "Williamson", "Brown",
    "Browning", "Jones", "Miller", "Millerson", "Davis", "Davidson", "Wilson", "Anderson",
    "Andersen", "Taylor", "Thomas", "Thompson", "Moore", "Martin", "Martinez", "Lee",
    "Leeson", "Walker", "Hall", "Allen", "Young", "King", "Kingsley", "Wright", "Scott",
    "Green", "Greenberg", "Baker", "Adams", "Nelson", "Hill", "Campbell", "Mitchell",
    "Roberts", "Robertson", "Carter", "Phillips", "Evans", "Turner", "Torres", "Parker",
    "Collins", "Edwards", "Stewart", "Morris", "Murphy", "Cook", "Rogers", "Morgan",
    "Peterson", "Cooper", "Reed", "Bailey", "Bell", "Kelly", "Howard", "Ward", "Cox",
    "Richardson", "Wood", "Watson", "Brooks", "Bennett", "Gray", "James", "Hughes",
    "Price", "Sanders", "Patel", "Shah", "Singh", "Kumar", "Chen", "Wang", "Li", "Zhang",
    "Liu", "Yang", "Huang", "Kim", "Park", "Choi", "Tanaka", "Suzuki", "Sato", "Nakamura",
    "Ito", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
    "Hoffmann", "Koch", "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano",
    "Dubois", "Durand", "Lefebvre", "Moreau", "Laurent", "Simon", "Michel", "Novak",
    "Horvat", "Kowalski", "Nowak", "Wiśniewski", "Ivanov", "Petrov", "Popescu", "Silva",
    "Santos", "Oliveira", "Costa", "Pereira", "Rodrigues", "Fernandes", "Lopez", "Gonzalez",
    "Hernandez", "Sanchez", "Ramirez", "Flores", "Rivera", "Okafor", "Adeyemi", "Mensah",
    "Nkosi", "Haddad", "Nasser", "Cohen", "Levi", "Friedman", "O'Brien", "O'Connor",
    "MacDonald", "McCarthy", "Van Dijk", "De Jong", "Jansen", "Bakker", "Nielsen", "Hansen",
    "Larsen", "Lindqvist", "Berg", "Virtanen", "Korhonen",
    # accented
    "Müller", "García", "Gómez", "Núñez", "Pérez", "Öztürk", "Ødegaard", "Kovačević",
    "Nguyễn", "Dvořák", "Sørensen", "Björk", "Fernández", "Gonçalves", "Jiménez", "Lévesque",
    "Łukasiewicz", "Șerban", "Żak", "Ahlström",
)  # fmt: skip

TITLES: tuple[str, ...] = (
    "Software Engineer", "Senior Software Engineer", "Staff Engineer", "Engineering Manager",
    "Product Manager", "Product Designer", "UX Researcher", "Data Scientist", "Data Engineer",
    "Site Reliability Engineer", "Security Engineer", "QA Engineer", "Technical Writer",
    "Account Executive", "Sales Engineer", "Customer Success Manager", "Support Specialist",
    "Marketing Manager", "Content Strategist", "Recruiter", "People Partner", "Accountant",
    "Financial Analyst", "Legal Counsel", "Office Manager", "Chief of Staff", "VP Engineering",
    "Director of Product", "Intern",
)  # fmt: skip

# (zone, weight): most people sit in a handful of offices.
TIME_ZONES: tuple[tuple[str, int], ...] = (
    ("America/Los_Angeles", 20), ("America/New_York", 18), ("America/Chicago", 8),
    ("America/Denver", 3), ("America/Sao_Paulo", 3), ("America/Toronto", 4),
    ("Europe/London", 12), ("Europe/Berlin", 8), ("Europe/Paris", 5), ("Europe/Madrid", 3),
    ("Europe/Stockholm", 2), ("Europe/Warsaw", 2), ("Asia/Kolkata", 6), ("Asia/Tokyo", 4),
    ("Asia/Singapore", 3), ("Asia/Shanghai", 2), ("Australia/Sydney", 3), ("Africa/Lagos", 1),
    ("UTC", 1),
)  # fmt: skip

CHANNEL_PREFIXES: tuple[str, ...] = (
    "team", "proj", "eng", "help", "ask", "announce", "social", "design", "sales", "ops",
    "data", "mkt", "support", "feat", "inc", "guild", "loc", "hiring", "fun", "topic",
)  # fmt: skip

CHANNEL_TOPICS: tuple[str, ...] = (
    "backend", "frontend", "mobile", "ios", "android", "infra", "platform", "payments",
    "billing", "search", "growth", "onboarding", "security", "privacy", "releases", "deploys",
    "oncall", "alerts", "metrics", "analytics", "ml", "api", "docs", "qa", "perf", "design",
    "brand", "website", "events", "london", "berlin", "nyc", "sf", "tokyo", "remote",
    "coffee", "books", "music", "pets", "running", "cooking", "gaming", "photography",
    "travel", "parents", "emea", "apac", "amer", "enterprise", "partners", "pricing",
    "roadmap", "interviews", "benefits", "it", "office", "legal", "finance", "hackathon",
    "kubernetes", "postgres", "rust", "python", "go", "typescript", "accessibility",
)  # fmt: skip

PURPOSES: tuple[str, ...] = (
    "Everything about {topic}.", "Questions and answers on {topic}.",
    "Daily coordination for {topic}.", "Announcements only: {topic}.",
    "Where the {topic} people hang out.", "Status, plans and decisions for {topic}.",
)  # fmt: skip

WORDS: tuple[str, ...] = (
    "the", "a", "we", "I", "you", "it", "this", "that", "our", "their", "is", "are", "was",
    "will", "can", "should", "might", "need", "want", "think", "know", "see", "look", "check",
    "ship", "deploy", "review", "merge", "fix", "test", "build", "release", "update", "move",
    "plan", "meet", "sync", "call", "write", "read", "share", "send", "ask", "help", "try",
    "today", "tomorrow", "yesterday", "later", "soon", "now", "again", "maybe", "probably",
    "definitely", "quickly", "really", "just", "also", "still", "already", "and", "but", "or",
    "so", "because", "if", "when", "after", "before", "with", "without", "for", "from", "on",
    "in", "about", "into", "over", "pull", "request", "branch", "ticket", "bug", "issue",
    "feature", "design", "doc", "spec", "meeting", "standup", "retro", "demo", "customer",
    "dashboard", "metrics", "latency", "error", "alert", "incident", "rollback", "database",
    "cache", "queue", "service", "endpoint", "config", "migration", "schema", "index", "query",
    "budget", "roadmap", "quarter", "sprint", "deadline", "launch", "draft", "feedback",
    "proposal", "numbers", "slides", "lunch", "coffee", "weekend", "team", "everyone",
    "thanks", "great", "nice", "awesome", "weird", "broken", "green", "red", "flaky", "slow",
    "fast", "done", "ready", "blocked", "happy", "sorry", "sure", "good", "new", "old",
    "first", "last", "next", "big", "small", "whole", "same", "other", "some", "all", "most",
    "few", "more", "less", "again", "staging", "production", "prod", "canary", "rollout",
)  # fmt: skip

LINK_PATHS: tuple[str, ...] = (
    "docs", "wiki", "dashboards", "tickets", "pulls", "designs", "runbooks", "reports",
    "specs", "notes",
)  # fmt: skip

EMOJI: tuple[str, ...] = (
    "thumbsup", "+1", "heart", "tada", "eyes", "joy", "white_check_mark", "rocket", "pray",
    "fire", "100", "raised_hands", "thinking_face", "smile", "ok_hand", "clap", "wave", "sob",
    "muscle", "sparkles", "thumbsup::skin-tone-3", "party_parrot",
)  # fmt: skip

_FOLD = str.maketrans({"ø": "o", "Ø": "o", "ł": "l", "Ł": "l", "ß": "ss", "æ": "ae", "đ": "d"})


def ascii_fold(text: str) -> str:
    """``"Søren Ødegaard"`` -> ``"Soren Odegaard"``: usernames and emails stay ASCII."""
    text = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(c for c in text if not unicodedata.combining(c) and c.isascii())


def handle(name: str) -> str:
    """A name's part of a username: ``"O'Brien"`` -> ``"obrien"``, ``"Van Dijk"`` -> ``"vandijk"``."""
    return "".join(c for c in ascii_fold(name).lower() if c.isalnum())
