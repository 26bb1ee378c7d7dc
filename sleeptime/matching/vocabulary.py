"""Word tables the fact extractors read: numbers, units, targets, time words, function words."""

from __future__ import annotations

from fractions import Fraction


def _groups(table: dict[str, str]) -> dict[str, str]:
    """``{canonical: "word word ..."}`` -> ``{word: canonical}``."""
    return {word: canon for canon, words in table.items() for word in words.split()}


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


CARDINALS: dict[str, int] = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}
SCALES: dict[str, int] = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
MULTIPLIERS: dict[str, Fraction] = {
    "twice": Fraction(2), "double": Fraction(2), "doubled": Fraction(2), "thrice": Fraction(3),
    "triple": Fraction(3), "tripled": Fraction(3), "quadruple": Fraction(4), "half": Fraction(1, 2),
    "halved": Fraction(1, 2), "dozen": Fraction(12), "dozens": Fraction(12), "quarter": Fraction(1, 4),
    "quarters": Fraction(1, 4), "pair": Fraction(2), "couple": Fraction(2),
}
ORDINALS: dict[str, int] = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "last": -1,
}
# "a third", "two thirds", "one fifth": fractions written with an ordinal denominator.
FRACTION_DENOMS: dict[str, int] = {
    "third": 3, "thirds": 3, "fourth": 4, "fourths": 4, "fifth": 5, "fifths": 5, "sixth": 6, "sixths": 6,
    "eighth": 8, "eighths": 8, "tenth": 10, "tenths": 10,
}
CURRENCY_SIGNS = frozenset("$€£¥₹")

UNITS: dict[str, str] = _groups({
    "second": "second seconds sec secs",
    "minute": "minute minutes min mins",
    "hour": "hour hours hr hrs hourly",
    "day": "day days daily",
    "week": "week weeks weekly",
    "month": "month months monthly",
    "year": "year years yearly annually annual",
    "mm": "millimeter millimeters millimetre millimetres mm",
    "cm": "centimeter centimeters centimetre centimetres cm",
    "m": "meter meters metre metres",
    "km": "kilometer kilometers kilometre kilometres km",
    "inch": "inch inches",
    "foot": "foot feet ft",
    "yard": "yard yards",
    "mile": "mile miles",
    "ml": "milliliter milliliters millilitre millilitres ml",
    "liter": "liter liters litre litres",
    "gallon": "gallon gallons",
    "quart": "quart quarts",
    "pint": "pint pints",
    "cup": "cup cups",
    "teaspoon": "teaspoon teaspoons tsp",
    "tablespoon": "tablespoon tablespoons tbsp",
    "ounce": "ounce ounces oz",
    "pound": "pound pounds lb lbs",
    "gram": "gram grams g",
    "kg": "kilogram kilograms kilo kilos kg",
    "ton": "ton tons tonne tonnes",
    "usd": "dollar dollars usd bucks $",
    "cent": "cent cents",
    "eur": "euro euros eur €",
    "gbp": "£ gbp",
    "yen": "yen ¥",
    "inr": "rupee rupees ₹",
    "percent": "percent percentage percentages % per-cent",
    "mph": "mph",
    "degree": "degree degrees",
})
# Single letters and short forms count as units only right after a number ("5 g", "3 m").
UNITS_AFTER_NUMBER_ONLY = frozenset({"g", "m", "min", "sec", "ml", "mm", "cm", "km", "kg", "oz", "lb", "lbs",
                                     "ft", "hr"})
TIME_UNITS = frozenset({"second", "minute", "hour", "day", "week", "month", "year"})

TARGETS: dict[str, str] = _groups({
    "remaining": "left remain remains remaining remained leftover leftovers rest",
    "disposed": "sold sell sells selling used use uses using spent spend spends spending ate eat eats eaten "
    "gave give gives given giving lost lose loses removed remove took take taken consumed consume "
    "donated donate threw throw thrown",
    "acquired": "bought buy buys buying purchased purchase purchases received receive receives got get gets "
    "collected collect collects found find earned earn earns gained gain gains won win wins added add adds",
    "more": "more greater larger longer older taller higher bigger faster heavier extra exceed exceeds",
    "less": "less fewer smaller shorter younger lower cheaper slower lighter",
    "each": "each per every apiece average individually",
    "total": "total totally altogether together combined overall sum entire whole all",
    "most": "most maximum greatest highest largest biggest",
    "least": "least minimum fewest lowest smallest",
    "before": "before earlier initially originally start beginning",
    "after": "after later finally end",
    "difference": "difference differ",
    "ratio": "ratio proportion fraction",
})
NEGATIONS = frozenset({"not", "no", "never", "none", "nothing", "nobody", "neither", "nor", "without", "cannot",
                       "except", "n't"})

# Time words that are not units: points in the week, the year and the day, and relative references.
TIME_WORDS: dict[str, str] = _groups({
    "monday": "monday mondays", "tuesday": "tuesday tuesdays", "wednesday": "wednesday wednesdays",
    "thursday": "thursday thursdays", "friday": "friday fridays", "saturday": "saturday saturdays",
    "sunday": "sunday sundays", "weekend": "weekend weekends", "weekday": "weekday weekdays",
    "january": "january", "february": "february", "march": "march", "april": "april", "june": "june",
    "july": "july", "august": "august", "september": "september", "october": "october",
    "november": "november", "december": "december",
    "spring": "spring", "summer": "summer", "autumn": "autumn fall", "winter": "winter",
    "morning": "morning mornings", "afternoon": "afternoon afternoons", "evening": "evening evenings",
    "night": "night nights tonight", "noon": "noon midday", "midnight": "midnight",
    "today": "today", "tomorrow": "tomorrow", "yesterday": "yesterday",
})
# "May" is a month only when capitalised mid-sentence; lowercase "may" is the modal verb.
CAPITALISED_ONLY_TIME_WORDS = {"May": "may"}
# The word before a time unit that says which one: "per week", "next month", "the first day".
RATE_WORDS = frozenset({"per", "each", "every", "a", "an"})
# "daily" is scanned as "per day".
RATE_ADVERBS: dict[str, str] = {"hourly": "hour", "daily": "day", "weekly": "week", "monthly": "month",
                                "yearly": "year", "annually": "year", "annual": "year"}
RELATIVE_TIME_WORDS = frozenset({"next", "last", "this", "previous", "following", "coming", "past", "same"})

# Capitalised words that are not names: question words, function words, imperative openers.
NOT_ENTITIES = _set("""
how what which who whom whose when where why if in on at the a an after before once calculate find
determine compute given assuming assume suppose can could would will is are does do did was were
please tell me for to of and but so then during over by with each every all together altogether total
i mr mrs ms dr prof it this that these those there they he she his her their its we you your our
also now still since while until as from into out up down some any many much more less most least
let using use work working figure give express round answer question q based considering including
excluding say show explain estimate should must may might has have had being been not no yes only
just exactly about approximately roughly compared
""")

# Auxiliaries that place the question in the past or the future ("did she sell" vs "will she sell").
TENSES: dict[str, str] = _groups({"past": "did was were had", "future": "will wo shall going"})

PRONOUNS: dict[str, str] = _groups({
    "he": "he him his himself", "she": "she her hers herself", "they": "they them their theirs themselves",
})
# "I", "we" and "you" are left out: "Can you tell me ..." frames a question, it does not change it.

# Words that frame a question without changing what it asks: left out of the wording check.
FUNCTION_WORDS = _set("""
a an the of in on at to from for by with into onto about as than then so and or but if when once after
before while during until since given that assuming suppose supposing considering what which who whom
how many much is are was were be been being am do does did done doing will would shall should can
could may might must has have had having it its this these those there here some any also just only
exactly precisely approximately roughly about please tell me us can you know find out calculate
determine compute figure work say quick question q number amount value count total altogether
all in up now still then each every per apiece times
""") - {"to", "from", "than"}

# Irregular forms that mean the same word ("bought" is "buy"); regular endings are stripped by rule.
LEMMAS: dict[str, str] = _groups({
    "buy": "buy bought purchase purchased purchases purchasing buys buying",
    "sell": "sell sold sells selling", "spend": "spend spent", "eat": "eat ate eaten",
    "give": "give gave given", "take": "take took taken", "get": "get got gotten",
    "find": "find found", "make": "make made", "pay": "pay paid", "run": "run ran",
    "drive": "drive drove driven", "write": "write wrote written", "read": "read",
    "leave": "leave", "left": "left remain remains remaining remained", "lose": "lose lost",
    "win": "win won", "throw": "throw threw thrown", "keep": "keep kept", "bring": "bring brought",
    "catch": "catch caught", "teach": "teach taught", "think": "think thought", "send": "send sent",
    "grow": "grow grew grown", "fly": "fly flew flown", "swim": "swim swam swum",
    "child": "child children", "person": "person people persons", "man": "man men", "woman": "woman women",
    "each": "each every per apiece", "total": "total altogether combined sum overall all",
    "foot": "foot feet", "tooth": "tooth teeth", "mouse": "mouse mice", "goose": "goose geese",
})
