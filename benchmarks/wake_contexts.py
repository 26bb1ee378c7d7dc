"""Five project-written contexts for bench_wake.py: raw text, hand-written notes of the length a
sleep run writes, three predicted questions with worked answers, six real questions each."""

from __future__ import annotations

from typing import Any

CONTEXTS: dict[str, dict[str, Any]] = {
    "orchard": {
        "raw": "Lena runs an orchard with 14 rows of apple trees and 9 trees in each row. Each tree gives "
        "about 35 kg of apples a season. She sells apples at the market for $3 per kg and presses the "
        "bruised ones into juice: 1 litre of juice needs 2 kg of apples and sells for $5. This season "
        "she kept 10% of the harvest for juice. Her two helpers are paid $120 a day each and worked "
        "18 days during the harvest.",
        "notes": "Trees: 14 rows x 9 trees = 126 trees.\nHarvest: 126 x 35 kg = 4,410 kg.\n"
        "Juice share: 10% of 4,410 = 441 kg -> 441 / 2 = 220.5 litres -> 220.5 x $5 = $1,102.50.\n"
        "Market apples: 4,410 - 441 = 3,969 kg x $3 = $11,907.\nRevenue: 11,907 + 1,102.50 = $13,009.50.\n"
        "Helpers: 2 x $120 x 18 days = $4,320.\nRevenue after helpers: 13,009.50 - 4,320 = $8,689.50.\n"
        "Per tree: 35 kg; per row: 9 x 35 = 315 kg.\nA day of both helpers costs $240.\n"
        "Likely questions: totals of trees, kilograms, juice litres, revenue, wages, what is left.",
        "predicted": [
            {"question": "How many kilograms of apples does the orchard produce in a season?",
             "answer": "14 x 9 = 126 trees; 126 x 35 = 4,410 kg. #### 4410"},
            {"question": "How much do the helpers earn in total?",
             "answer": "2 x 120 x 18 = 4,320. #### 4320"},
            {"question": "How many litres of juice does Lena make?",
             "answer": "10% of 4,410 = 441 kg; 441 / 2 = 220.5 litres. #### 220.5"},
        ],
        "questions": [
            "How many apple trees are in the orchard?",
            "How many kilograms of apples are sold at the market?",
            "How much money does the juice bring in?",
            "What is the total revenue of the season?",
            "How much is left after paying the helpers?",
            "How many kilograms of apples does one row give?",
        ],
    },
    "bakery": {
        "raw": "A bakery bakes 240 croissants every morning and sells them for $2.50 each. Flour costs "
        "$0.40 per croissant and butter $0.55 per croissant. On weekdays it sells 85% of the croissants; "
        "on Saturday and Sunday it sells all of them. Unsold croissants are given to a shelter. The "
        "bakery is open 7 days a week and pays $900 a week in rent.",
        "notes": "Cost per croissant: 0.40 + 0.55 = $0.95; margin per sold croissant: 2.50 - 0.95 = $1.55.\n"
        "Weekday sales: 85% of 240 = 204 sold, 36 to the shelter.\n"
        "Weekend sales: 240 each day.\nWeek: 5 x 204 + 2 x 240 = 1,020 + 480 = 1,500 sold.\n"
        "Baked per week: 7 x 240 = 1,680; to the shelter: 5 x 36 = 180.\n"
        "Weekly revenue: 1,500 x 2.50 = $3,750. Weekly ingredient cost: 1,680 x 0.95 = $1,596.\n"
        "Weekly result: 3,750 - 1,596 - 900 rent = $1,254.\n"
        "Weekday revenue: 204 x 2.50 = $510; weekend day revenue: 240 x 2.50 = $600.",
        "predicted": [
            {"question": "How many croissants does the bakery sell in a week?",
             "answer": "5 x 204 + 2 x 240 = 1,500. #### 1500"},
            {"question": "How many croissants go to the shelter each week?",
             "answer": "5 weekdays x 36 = 180. #### 180"},
            {"question": "What is the bakery's weekly result after rent?",
             "answer": "3,750 - 1,596 - 900 = 1,254. #### 1254"},
        ],
        "questions": [
            "How many croissants are sold on a weekday?",
            "What does one croissant cost to make?",
            "What is the weekly revenue from croissants?",
            "How many croissants are baked in a week?",
            "How much money does a Saturday bring in?",
            "What is the profit on one sold croissant?",
        ],
    },
    "library": {
        "raw": "The town library owns 8,400 books. 15% of them are children's books and 1,260 are "
        "reference books that cannot be borrowed. Every week readers borrow 420 books and return them "
        "after 2 weeks on average. The library buys 60 new books a month at $18 each and removes 25 "
        "worn books a month. Membership costs $12 a year and the library has 1,150 members.",
        "notes": "Children's books: 15% of 8,400 = 1,260.\nBorrowable books: 8,400 - 1,260 reference = 7,140.\n"
        "Out on loan at any time: 420 a week x 2 weeks = 840 books.\n"
        "Net growth: 60 bought - 25 removed = 35 books a month = 420 a year.\n"
        "Book budget: 60 x $18 = $1,080 a month = $12,960 a year.\n"
        "Membership income: 1,150 x $12 = $13,800 a year.\n"
        "After a year: 8,400 + 420 = 8,820 books.\n"
        "On the shelves now (borrowable, not on loan): 7,140 - 840 = 6,300.",
        "predicted": [
            {"question": "How many books can be borrowed?",
             "answer": "8,400 - 1,260 = 7,140. #### 7140"},
            {"question": "How much does the library spend on new books in a year?",
             "answer": "60 x 18 x 12 = 12,960. #### 12960"},
            {"question": "How many books will the library own after one year?",
             "answer": "Net 35 a month x 12 = 420; 8,400 + 420 = 8,820. #### 8820"},
        ],
        "questions": [
            "How many children's books does the library own?",
            "How many books are on loan at any time?",
            "How much membership money does the library collect in a year?",
            "By how many books does the collection grow each month?",
            "How many borrowable books are on the shelves?",
            "What does the library spend on books each month?",
        ],
    },
    "cycling": {
        "raw": "Tomas trains for a cycling race. On Mondays and Thursdays he rides 42 km, on Saturdays "
        "he rides 95 km, and he rests on the other days. He rides at an average of 28 km per hour. His "
        "bike computer says he burns 30 kcal per km. The race is 180 km long and is in 6 weeks; he "
        "plans to add 5 km to his Saturday ride every week.",
        "notes": "Weekly distance now: 2 x 42 + 95 = 179 km.\nWeekly riding time: 179 / 28 = 6.39 hours.\n"
        "Weekly energy: 179 x 30 = 5,370 kcal.\nSaturday ride time: 95 / 28 = 3.39 hours.\n"
        "Saturday ride in week 6 (5 more each week after this one): 95 + 5 x 5 = 120 km.\n"
        "Race time at 28 km/h: 180 / 28 = 6.43 hours.\nRace energy: 180 x 30 = 5,400 kcal.\n"
        "Six weeks of Saturdays: 95 + 100 + 105 + 110 + 115 + 120 = 645 km.",
        "predicted": [
            {"question": "How far does Tomas ride in a week?",
             "answer": "2 x 42 + 95 = 179 km. #### 179"},
            {"question": "How many kcal does Tomas burn in the race?",
             "answer": "180 x 30 = 5,400. #### 5400"},
            {"question": "How long will the race take him?",
             "answer": "180 / 28 = 6.43 hours. #### 6.43"},
        ],
        "questions": [
            "How many kcal does Tomas burn in a normal week?",
            "How long is his Saturday ride in the sixth week?",
            "How many hours does he ride each week?",
            "How far does he ride on Mondays and Thursdays together?",
            "How many km do his six Saturday rides add up to?",
            "How long does his Saturday ride take now?",
        ],
    },
    "hostel": {
        "raw": "A hostel has 6 dorm rooms with 8 beds each and 4 private rooms with 2 beds each. A dorm "
        "bed costs $28 a night and a private room $90 a night. In July the dorm beds are 75% full and "
        "the private rooms are all taken every night. July has 31 days. Cleaning costs $6 per occupied "
        "bed per night and the manager is paid $3,100 a month.",
        "notes": "Beds: 6 x 8 = 48 dorm beds + 4 x 2 = 8 private beds = 56 beds.\n"
        "Occupied dorm beds a night in July: 75% of 48 = 36.\nDorm income a night: 36 x 28 = $1,008.\n"
        "Private income a night: 4 x 90 = $360.\nIncome a night: 1,008 + 360 = $1,368.\n"
        "July income: 1,368 x 31 = $42,408.\nOccupied beds a night: 36 + 8 = 44; cleaning 44 x 6 = $264 a night.\n"
        "July cleaning: 264 x 31 = $8,184.\nJuly after cleaning and manager: 42,408 - 8,184 - 3,100 = $31,124.",
        "predicted": [
            {"question": "How much does the hostel earn in July?",
             "answer": "(36 x 28 + 4 x 90) x 31 = 1,368 x 31 = 42,408. #### 42408"},
            {"question": "How many beds does the hostel have?",
             "answer": "6 x 8 + 4 x 2 = 56. #### 56"},
            {"question": "What does cleaning cost in July?",
             "answer": "44 beds x 6 x 31 = 8,184. #### 8184"},
        ],
        "questions": [
            "How many dorm beds are occupied each night in July?",
            "How much do the private rooms earn per night?",
            "What does the hostel earn per night in July?",
            "What is left in July after cleaning and the manager?",
            "How much does cleaning cost per night?",
            "How many dorm beds does the hostel have?",
        ],
    },
}
