### Mluv.Me: every text the bot shows, in Ukrainian.
### Plain text (the bot sends it without parse_mode): no HTML, user text needs no escaping.
### Numbers ($count, $words, $hour…) must be passed as int; the rest as str. Czech examples stay in Czech.
### Every key here exists in ru/bot.ftl with the same variables (tests/i18n/test_texts.py checks).

## Plural forms, for code that needs a counted noun on its own.

n-messages = { $count } { $count ->
        [one] повідомлення
        [few] повідомлення
       *[many] повідомлень
    }
n-words = { $count } { $count ->
        [one] слово
        [few] слова
       *[many] слів
    }
n-days = { $count } { $count ->
        [one] день
        [few] дні
       *[many] днів
    }
n-stars = { $count } { $count ->
        [one] зірка
        [few] зірки
       *[many] зірок
    }

## /start

start-welcome =
    Привіт! 👋 Я Mluv і допомагаю практикувати письмову чеську.
    Пиши мені чеською про що завгодно, а я позначу помилки, підкажу, де потрібна діакритика (háčky a čárky), і покажу виправлений текст.
    Щодня на тебе чекає невелике завдання, серія днів поспіль і раз на тиждень звіт про прогрес.
start-choose-language = Якою мовою тобі зручніше отримувати підказки?
start-choose-level = Який у тебе рівень чеської?
level-beginner = 🌱 Початковий (A1–A2)
level-intermediate = 🌿 Середній (B1–B2)
level-advanced = 🌳 Просунутий (C1–C2)
# $level: beginner, intermediate or advanced
start-done =
    Готово! Рівень: { $level ->
        [beginner] початковий
        [intermediate] середній
       *[advanced] просунутий
    }.
    Напиши мені перше повідомлення чеською, наприклад: «Ahoj! Jmenuju se Anna a učím se česky.»
# /start from a learner who has already practised; $streak: their streak today in days (0: broken)
start-welcome-back =
    З поверненням! 👋 { $streak ->
        [0] Серія перервалася, але одне повідомлення сьогодні почне нову.
       *[other] 🔥 Серія: { $streak } { $streak ->
            [one] день
            [few] дні
           *[many] днів
        } поспіль.
    }
    Пиши мені чеською про що завгодно, а я перевірю текст. Прогрес: /stats, налаштування: /settings.
# /report again with no new message since the report of the last 7 days (it is in the chat); $time: 27.11–03.12
report-sent-before = 📈 Звіт за останні 7 днів ({ $time }) я вже надіслав, він вище в чаті. Відтоді нових повідомлень не було: напиши щось чеською, і новий /report це врахує.
# /settings: the Back button of every sub-menu, and the time zones the keyboard offers (the city)
btn-back = ↩️ Назад
tz-europe-prague = Прага
tz-europe-kyiv = Київ
tz-europe-moscow = Москва
tz-europe-warsaw = Варшава
tz-europe-berlin = Берлін
tz-europe-london = Лондон
tz-asia-almaty = Алмати
tz-america-new-york = Нью-Йорк

## Practice and feedback

feedback-empty = Не знайшов у повідомленні жодного слова 🤔 Напиши кілька речень чеською, наприклад: «Dnes je krásný den.»
feedback-perfect = 🎉 Чудово! { $words } { $words ->
        [one] слово
        [few] слова
       *[many] слів
    } і жодної помилки. Так тримати!
# $correctness: 0-100
feedback-header = 📝 Правильність: { $correctness }% ({ $words } { $words ->
        [one] слово
        [few] слова
       *[many] слів
    })
# $items: lines made of feedback-diacritics-item
feedback-diacritics =
    ✏️ Діакритика ({ $count } { $count ->
        [one] виправлення
        [few] виправлення
       *[many] виправлень
    }):
    { $items }
feedback-diacritics-item = • { $original } → { $suggestion }
# $items: lines made of feedback-correction-item(-explained)
feedback-corrections =
    🔧 { $count } { $count ->
        [one] виправлення
        [few] виправлення
       *[many] виправлень
    }:
    { $items }
feedback-correction-item = • { $original } → { $suggestion }
feedback-correction-item-explained = • { $original } → { $suggestion }: { $explanation }
# $words: the unknown words, comma-separated
feedback-unknown-words = ❓ { $count ->
        [1] Цього слова я не знаю
       *[other] Цих слів я не знаю
    }, перевір написання: { $words }
feedback-more = …і ще { $count }
feedback-corrected-text =
    ✅ Виправлений текст:
    { $text }
feedback-comment = 💬 { $comment }

## Feedback that says what was checked; the offline rules explained by the learner's level (mluv/domain/feedback.py).
## Only a reviewer that checked grammar as a whole may say "no mistakes" (feedback-perfect); the others say
## what they found right. Practice messages that are not Czech (mluv/bot/handlers/practice.py).

# No correction, and grammar was not checked as a whole: what was found right, no claim of "no mistakes".
feedback-clean-rules = ✅ Правопис і діакритика в порядку; перевірені правила граматики помилок не знайшли.
feedback-clean-spelling = ✅ Правопис і діакритика в порядку.
feedback-clean-diacritics = ✅ Помилок у діакритиці не знайшов.
# The last line of every feedback: what the reviewer checked (Review.checks).
feedback-checked-grammar = 🔍 Перевірив діакритику, правопис і граматику.
feedback-checked-rules = 🔍 Перевірив діакритику, правопис і правила граматики: відмінок після прийменника, dva/dvě та oba/obě, рід прикметника після je, форми být. Інших помилок я поки не шукаю.
feedback-checked-spelling = 🔍 Перевірив діакритику й правопис, граматику не перевіряв.
feedback-checked-diacritics = 🔍 Перевірив діакритику і чи знайомі мені слова, граматику не перевіряв.
# Under the diacritics list, for a beginner.
feedback-diacritics-note = Háček і čárka — частина літери: e та ě, a та á — різні літери, без них слово читається інакше або означає інше.
# An offline rule's correction explained: -beginner the rule in a sentence with the example, -intermediate a short hint.
# $original: the word that sets the rule (the preposition, the numeral, the noun, the pronoun); $text: the corrected example, e.g. do kina.
rule-preposition-genitive-beginner = після «{ $original }» потрібен родовий відмінок (2. pád, кого? чого?): { $text }
rule-preposition-genitive-intermediate = { $original } + 2. pád
rule-preposition-dative-beginner = після «{ $original }» потрібен давальний відмінок (3. pád, кому? чому?): { $text }
rule-preposition-dative-intermediate = { $original } + 3. pád
rule-preposition-accusative-beginner = після «{ $original }» тут потрібен знахідний відмінок (4. pád, кого? що?): { $text }
rule-preposition-accusative-intermediate = { $original } + 4. pád
rule-preposition-locative-beginner = «{ $original }», коли йдеться про місце або тему, вимагає місцевого відмінка (6. pád, на кому? на чому?): { $text }
rule-preposition-locative-intermediate = { $original } + 6. pád
rule-preposition-instrumental-beginner = після «{ $original }» потрібен орудний відмінок (7. pád, ким? чим?): { $text }
rule-preposition-instrumental-intermediate = { $original } + 7. pád
rule-numeral-masculine-beginner = dva та oba — з іменниками чоловічого роду, dvě та obě — з жіночим і середнім; тут чоловічий рід: { $text }
rule-numeral-masculine-intermediate = чоловічий рід: dva/oba
rule-numeral-feminine-beginner = dvě та obě — з іменниками жіночого й середнього роду, dva та oba — лише з чоловічим; тут жіночий рід: { $text }
rule-numeral-feminine-intermediate = жіночий рід: dvě/obě
rule-numeral-neuter-beginner = dvě та obě — з іменниками жіночого й середнього роду, dva та oba — лише з чоловічим; тут середній рід: { $text }
rule-numeral-neuter-intermediate = середній рід: dvě/obě
rule-numeral-plural-beginner = після «{ $original }» іменник стоїть у називному відмінку множини: { $text }
rule-numeral-plural-intermediate = { $original } + 1. pád мн.
rule-numeral-genitive-beginner = після «{ $original }» і більших чисел іменник стоїть у родовому відмінку множини: { $text }
rule-numeral-genitive-intermediate = { $original } + 2. pád мн.
rule-adjective-masculine-beginner = «{ $original }» — чоловічого роду, тому прикметник після je теж у чоловічому роді (-ý): { $text }
rule-adjective-masculine-intermediate = «{ $original }» — чоловічий рід
rule-adjective-feminine-beginner = «{ $original }» — жіночого роду, тому прикметник після je теж у жіночому роді (-á): { $text }
rule-adjective-feminine-intermediate = «{ $original }» — жіночий рід
rule-adjective-neuter-beginner = «{ $original }» — середнього роду, тому прикметник після je теж у середньому роді (-é): { $text }
rule-adjective-neuter-intermediate = «{ $original }» — середній рід
rule-byt-form-beginner = být змінюється за особами: já jsem, ty jsi, on/ona/ono je, my jsme, vy jste, oni jsou; тут: { $text }
rule-byt-form-intermediate = форма být для «{ $original }»
rule-spelling-beginner = такого слова немає в словнику; схоже, малося на увазі «{ $text }»
rule-spelling-intermediate = немає в словнику
rule-capitalisation-beginner = імена, міста, країни й національності пишуться з великої літери (Praha, Petr, Čech, Ukrajinka): { $text }
rule-capitalisation-intermediate = з великої літери
practice-blank = Повідомлення порожнє 🙂 Напиши одне-два речення чеською, наприклад: «Dnes je krásný den.»
practice-write-in-czech = Я перевіряю лише текст чеською ✍️ Спробуй написати це чеською: помилки не страшні, саме для цього я і потрібен. Наприклад: «Ahoj! Učím se česky a bydlím v Praze.»
practice-about-bot =
    Я Mluv, бот для практики письмової чеської. Пиши мені чеською про що завгодно, а я відповім: позначу помилки в діакритиці, написанні й часті граматичні помилки (відмінок після прийменника, dva/dvě, рід прикметника, форми být) і покажу виправлений текст.
    /stats — статистика за сьогодні та серія днів
    /report — звіт за останні 7 днів, разом із сьогоднішнім
    /settings — нагадування, час, часовий пояс і мова підказок
    /help — усі команди

## /stats and /report

stats =
    📊 Сьогодні: { $messages } { $messages ->
        [one] повідомлення
        [few] повідомлення
       *[many] повідомлень
    }, { $words } { $words ->
        [one] слово
        [few] слова
       *[many] слів
    }
    🔥 Серія: { $streak } { $streak ->
        [one] день
        [few] дні
       *[many] днів
    } поспіль, рекорд: { $longest } { $longest ->
        [one] день
        [few] дні
       *[many] днів
    }
    🎯 Завдання дня: { $done }/{ $goal } { $goal ->
        [one] повідомлення
        [few] повідомлення
       *[many] повідомлень
    }
challenge-completed = 🎉 Завдання дня виконано: { $goal } { $goal ->
        [one] повідомлення
        [few] повідомлення
       *[many] повідомлень
    } за сьогодні! Завтра буде нове.
stats-completed =
    📊 Сьогодні: { $messages } { $messages ->
        [one] повідомлення
        [few] повідомлення
       *[many] повідомлень
    }, { $words } { $words ->
        [one] слово
        [few] слова
       *[many] слів
    }
    🔥 Серія: { $streak } { $streak ->
        [one] день
        [few] дні
       *[many] днів
    } поспіль, рекорд: { $longest } { $longest ->
        [one] день
        [few] дні
       *[many] днів
    }
    🎯 Завдання дня виконано: { $goal } { $goal ->
        [one] повідомлення
        [few] повідомлення
       *[many] повідомлень
    } за сьогодні!
stats-week = 📅 За 7 днів: { $messages } { $messages ->
        [one] повідомлення
        [few] повідомлення
       *[many] повідомлень
    }, { $words } { $words ->
        [one] слово
        [few] слова
       *[many] слів
    }
stats-week-correctness = 📅 За 7 днів: { $messages } { $messages ->
        [one] повідомлення
        [few] повідомлення
       *[many] повідомлень
    }, { $words } { $words ->
        [one] слово
        [few] слова
       *[many] слів
    }, правильність { $correctness }%
stats-stars = ⭐ Зірки: { $stars }
stats-next-milestone = 🏁 Ще { $left } { $left ->
        [one] день
        [few] дні
       *[many] днів
    } до серії в { $days } { $days ->
        [one] день
        [few] дні
       *[many] днів
    }: +{ $stars } ★
stats-milestones-done = 🏁 Усі нагороди за серії вже отримано!
report-queued = 📈 Готую звіт за останні 7 днів, разом із сьогоднішнім, надішлю за хвилину.

## /top

top-title = 🏆 Рейтинг тижня: хто найбільше написав чеською за останні 7 днів
# One place; $rank: the place; $name: the first name; $words, $messages: already counted, e.g. 12 слів, 3 повідомлення
top-line = { $rank }. { $name }: { $words }, { $messages }
top-line-you = 👉 { $rank }. { $name } (це ти): { $words }, { $messages }
top-no-name = Без імені
top-empty = 🏆 Рейтинг тижня поки порожній: за останні 7 днів ще ніхто не написав чеською.
top-not-yet = Тебе поки немає в рейтингу. Він оновлюється щогодини: напиши щось чеською, і після оновлення ти в ньому з'явишся.
top-hidden = 🙈 Твоє ім'я не показується в рейтингу. Повернути його можна в /settings.

## /settings

# $reminders: on or off; $leaderboard: on (the name shown on /top) or off; $hour: 0-23 (int); $timezone: the localized zone, e.g. Прага (UTC+1); $language: ru or uk
settings-menu =
    ⚙️ Налаштування
    🔔 Нагадування: { $reminders ->
        [on] увімкнені
       *[off] вимкнені
    }
    🏆 Ім'я в рейтингу /top: { $leaderboard ->
        [on] показано
       *[off] приховано
    }
    ⏰ Час нагадування: { NUMBER($hour, minimumIntegerDigits: 2) }:00
    🌍 Часовий пояс: { $timezone }
    🗣 Мова: { $language ->
        [uk] українська
       *[ru] русский
    }
settings-reminders-on = 🔔 Нагадування увімкнено.
settings-reminders-off = 🔕 Нагадування вимкнено. Увімкнути їх знову можна в /settings.
settings-leaderboard-on = 🏆 Твоє ім'я знову буде в рейтингу /top (він оновлюється щогодини).
settings-leaderboard-off = 🙈 Твоє ім'я більше не показується в рейтингу /top. Повернути його можна в /settings.
settings-hour-prompt = ⏰ О котрій нагадувати? Обери годину за своїм часовим поясом.
settings-hour-set = ⏰ Нагадуватиму о { NUMBER($hour, minimumIntegerDigits: 2) }:00.
settings-hour-invalid = Година має бути числом від 0 до 23, наприклад 18.
settings-timezone-prompt = 🌍 Обери свій часовий пояс:
settings-timezone-set = 🌍 Часовий пояс: { $timezone }.
settings-timezone-invalid = Не знаю часового поясу «{ $timezone }». Обери його кнопкою в списку.
settings-language-prompt = 🗣 Обери мову підказок:
settings-language-set = Готово! Тепер я пишу українською.

## /help and errors

help =
    ✍️ Mluv: практика письмової чеської.
    Просто пиши мені чеською, а я перевірю текст і покажу помилки.

    /start — почати спочатку й обрати рівень
    /stats — статистика за сьогодні та серія днів
    /report — звіт за останні 7 днів, разом із сьогоднішнім
    /top — рейтинг тижня
    /settings — нагадування, час, часовий пояс і мова
    /help — ця довідка
unknown-command = Не знаю такої команди 🤔 Усі команди є в /help.
unsupported-sticker = Класний стікер! 😄 Але перевіряти я вмію лише текст, напиши щось чеською.
unsupported-photo = 📷 Фото я поки не читаю. Опиши його чеською, це чудова практика!
unsupported-voice = 🎙 Голосові я поки не розумію. Напиши те саме текстом чеською.
unsupported-other = Я розумію лише текст ✍️ Напиши щось чеською.
# $limit: the maximum number of characters
text-too-long = Повідомлення задовге 🙈 Максимум { $limit } { $limit ->
        [one] символ
        [few] символи
       *[many] символів
    }, розділи текст на частини.
# $seconds: how long to wait
too-many-messages = Повільніше 🙂 Забагато повідомлень поспіль. Зачекай { $seconds } { $seconds ->
        [one] секунду
        [few] секунди
       *[many] секунд
    }, і продовжимо.
error-generic = Ой, щось пішло не так 😕 Спробуй ще раз трохи згодом.

## Notifications

streak-reminder = 🔥 Твоя серія: { $streak } { $streak ->
        [one] день
        [few] дні
       *[many] днів
    } поспіль! Напиши сьогодні хоча б одне речення чеською, щоб її не втратити.
daily-reminder = ✍️ Час для чеської! Як минув твій день? Напиши кілька речень, наприклад: «Dnes jsem byl v práci a večer jsem vařil.»
daily-challenge-nudge = 🎯 Завдання дня: { $done }/{ $goal }. Залишилося { $left } { $left ->
        [one] повідомлення
        [few] повідомлення
       *[many] повідомлень
    }, ти майже біля мети!
streak-milestone = 🏆 { $days } { $days ->
        [one] день
        [few] дні
       *[many] днів
    } поспіль, оце так серія! Тримай нагороду: +{ $stars } { $stars ->
        [one] зірка
        [few] зірки
       *[many] зірок
    } ⭐

## Admin

admin-only = 🔒 Вибач, ця команда лише для адміністраторів.
broadcast-usage =
    Розсилка: /broadcast [параметри] текст. Перед надсиланням я покажу попередній перегляд, кому її буде надіслано і скільки отримувачів, і попрошу підтвердити.
    Параметри ставляться перед текстом, їх можна поєднувати:
    --lang ru або --lang uk — лише учням із цією мовою інтерфейсу;
    --active 7 — лише тим, хто займався за останні 7 днів;
    --channel ID — у канал зі списку каналів замість учнів;
    --html — текст із HTML-розміткою Telegram (теги b, i, u, s, a, code, pre, blockquote, tg-spoiler): я перевірю її до надсилання, а без --html теги прийдуть як є.
    Наприклад: /broadcast --lang uk --active 7 Ahoj! Zítra máme nové cvičení.
# $preview: the message as it will be sent; $format: post-format-*; $audience: audience-*; $count: recipients now
broadcast-confirm =
    📣 Попередній перегляд розсилки ({ $format }):

    { $preview }

    Кому: { $audience }. Отримувачів зараз: { $count }. Надіслати?
# Under the preview of a plain text that contains tags
broadcast-html-hint = 💡 У тексті є HTML-теги, але його буде надіслано звичайним текстом, і теги прийдуть як є. Щоб Telegram застосував форматування, надішли /broadcast --html із тим самим текстом.
# $text: what is wrong (one of post-*, schedule-error-*)
broadcast-invalid = ⚠️ Розсилку не створено: { $text }
post-format-plain = звичайний текст
post-format-html = HTML
audience-everyone = усі учні
# $language: ru | uk
audience-language = учні з { $language ->
        [uk] українською
       *[ru] російською
    } мовою інтерфейсу
# $days: learners active within this many days
audience-active = учні, які займалися за { $days ->
        [one] останній { $days } день
        [few] останні { $days } дні
       *[many] останні { $days } днів
    }
audience-language-active = учні з { $language ->
        [uk] українською
       *[ru] російською
    } мовою інтерфейсу, які займалися за { $days ->
        [one] останній { $days } день
        [few] останні { $days } дні
       *[many] останні { $days } днів
    }
# $title: the channel's title
audience-channel = канал «{ $title }»
broadcast-confirmed = ✅ Розсилку запущено: { $count } { $count ->
        [one] отримувач
        [few] отримувачі
       *[many] отримувачів
    } у черзі.
# $rate: messages per second of a paid broadcast; $stars: its most cost in Telegram Stars; $count: recipients now
broadcast-paid-offer = ⚡ Або платна розсилка: до { $rate } повідомлень на секунду замість безкоштовного ліміту Telegram. Вартість — не більше { $stars } ⭐: по 0,1 зірки за кожне з { $count } повідомлень (по одному кожному отримувачу), списується з балансу бота; тим, хто заблокував бота, повідомлення не надходить і не оплачується.
# $count: recipients; $stars: the most it costs in Telegram Stars
broadcast-confirmed-paid = ✅ Платну розсилку запущено: отримувачів — { $count }, вартість — не більше { $stars } ⭐.
broadcast-cancelled = ❌ Розсилку скасовано.
# $count: characters in the whole text
broadcast-preview-shortened = ✂️ Попередній перегляд скорочено, щоб він помістився в одне повідомлення; надіслано буде весь текст ({ $count } { $count ->
        [one] символ
        [few] символи
       *[many] символів
    }).
# $count: minutes a draft can be confirmed
broadcast-expired = ⌛ Цій чернетці понад { $count } { $count ->
        [one] хвилину
        [few] хвилини
       *[many] хвилин
    }, її вже не буде надіслано. Щоб розіслати її, надішли /broadcast із текстом ще раз.
# $example: a valid date and time (tomorrow, 09:00 UTC)
schedule-usage =
    Запланувати допис: /schedule [параметри] коли текст. Час — за UTC:
    +30m, +2h, +1d — через 30 хвилин, 2 години, 1 день;
    18:00 — сьогодні о 18:00 UTC, а якщо цей час уже минув, то завтра;
    { $example } — дата й час.
    Параметри ті самі, що в /broadcast: --lang, --active, --channel, --html.
    Наприклад: /schedule { $example } Dobré ráno!
    /schedule list — заплановані дописи; /schedule cancel номер — скасувати допис.
# $time: e.g. 2026-12-01 09:00; $id: the post's number; $audience: audience-*
schedule-done =
    🗓 Допис №{ $id } заплановано на { $time } UTC.
    Кому: { $audience }.
    Скасувати: /schedule cancel { $id }
# $text: what is wrong (one of post-*, schedule-error-*)
schedule-invalid = ⚠️ Допис не заплановано: { $text }
schedule-list-empty = 🗓 Запланованих дописів немає.
# $count: pending posts
schedule-list-header = 🗓 Заплановані дописи, час за UTC (усього { $count }):
# $id: number; $time: send time (UTC); $audience: audience-*; $format: post-format-*; $preview: the text's beginning
schedule-list-item = №{ $id } · { $time } · { $audience } · { $format }: { $preview }
# $count: posts not shown
schedule-list-more = …і ще { $count } (показано найближчі).
schedule-list-footer = Скасувати: /schedule cancel номер
schedule-cancel-usage = Вкажи номер допису: /schedule cancel номер (номери є в /schedule list).
schedule-cancelled = ❌ Допис №{ $id } скасовано, його не буде надіслано.
schedule-cancel-missing = Допису №{ $id } немає серед запланованих: його вже надіслано, скасовано або він не існує. Список: /schedule list
schedule-error-zero-delay = затримка { $value } має бути більшою за нуль.
schedule-error-time-of-day = «{ $value }» — не час доби: години від 0 до 23, хвилини від 0 до 59.
schedule-error-unreadable = не розумію час «{ $value }».
schedule-error-past = { $time } UTC уже минуло. Вкажи майбутній час, наприклад { $example }.
schedule-error-missing = потрібні час і текст.
post-error-empty = у повідомленні немає тексту.
# $count: the text's length after the markup is parsed; $limit: 4096
post-error-too-long = текст задовгий: { $count } при максимумі { $limit } символів (рахуються видимі символи, без розмітки).
post-html-unknown-tag = Telegram не підтримує тег «{ $tag }». Можна: b, strong, i, em, u, ins, s, strike, del, tg-spoiler, span class="tg-spoiler", a href, code, pre, blockquote.
post-html-inside-code = усередині code і pre форматування не працює (тег «{ $tag }»).
post-html-unclosed-tag = тег «{ $tag }» не закрито.
post-html-unexpected-close = закривальний тег «/{ $tag }» без відкривального.
post-html-mismatched = теги переплутано: очікувався закривальний «/{ $expected }», а стоїть «/{ $found }».
post-html-bare-lt = знак «<» не починає тег: напиши його як &lt;
post-html-entity = Telegram не знає { $entity }: можна лише &lt; &gt; &amp; &quot; і числові, наприклад &#8212;
post-html-missing-href = у посилання (тег «a») немає адреси в href.
post-html-span = тег «span» можна використовувати лише як span class="tg-spoiler".
post-html-attribute = у тега «{ $tag }» не може бути атрибута «{ $attribute }».
post-option-unknown = невідомий параметр { $option }. Є: --lang, --active, --channel, --html.
post-option-missing = у параметра { $option } немає значення.
post-option-lang = мова «{ $value }» не підходить: вкажи ru або uk.
post-option-active = --active { $value }: вкажи кількість днів від 1 до { $limit }.
post-option-channel = каналу «{ $value }» немає в списку каналів.
post-option-channel-alone = --channel не можна поєднувати з --lang і --active.
channel-error-title = канал повинен мати назву.
jobs-summary =
    🛠 Фонові задачі
    У черзі: { $queued }
    Виконуються: { $running }
    Відкладені: { $scheduled }
    З помилкою: { $failed }

## Buttons

btn-reminders-on = 🔔 Увімкнути нагадування
btn-reminders-off = 🔕 Вимкнути нагадування
btn-leaderboard-on = 🏆 Показувати мене в рейтингу
btn-leaderboard-off = 🙈 Приховати мене з рейтингу
btn-hour = ⏰ Час
btn-timezone = 🌍 Часовий пояс
btn-language = 🗣 Мова
btn-language-ru = Русский
btn-language-uk = Українська
btn-confirm = ✅ Підтвердити
# $stars: the paid broadcast's most cost in Telegram Stars
btn-confirm-paid = ⚡ Платно: { $stars } ⭐
btn-cancel = ❌ Скасувати

## Bot menu (setMyCommands)

command-start = почати й обрати рівень
command-stats = статистика за сьогодні
command-report = звіт за останні 7 днів
command-top = рейтинг тижня
command-settings = нагадування, час, мова
command-help = довідка

## Weekly report

# The caption of the weekly report's chart. $time: the week, e.g. 16.11–22.11
report-title = 📈 Твій тиждень у Mluv: { $time }
report-totals = ✍️ { $messages } { $messages ->
        [one] повідомлення
        [few] повідомлення
       *[many] повідомлень
    }, { $words } { $words ->
        [one] слово
        [few] слова
       *[many] слів
    }
report-active-days = 📅 Днів із практикою: { $days } із 7
# $correctness: mean correctness of the week weighted by words, 0-100
report-correctness = 🎯 Середня правильність: { $correctness }%
report-correctness-none = 🎯 Правильність з'явиться, коли я перевірю твої тексти.
report-streak = 🔥 Серія: { $streak } { $streak ->
        [one] день
        [few] дні
       *[many] днів
    } поспіль, рекорд: { $longest } { $longest ->
        [one] день
        [few] дні
       *[many] днів
    }
report-empty = Цього тижня повідомлень не було. Нічого страшного, почнімо знову!
report-mistakes-title = 🔁 Часті помилки:
# $count: how many times this week
report-mistake = • { $original } → { $suggestion } ×{ $count }
report-mistake-unknown = • { $original } ×{ $count } (незнайоме слово)
report-tips-title = 💡 Поради:
report-tip-start = • Почни з малого: одне-два речення чеською на день, наприклад про те, як минув день.
report-tip-regularity = • Практика була в { $days } { $days ->
        [one] день
        [few] дні
       *[many] днів
    } із 7. Краще потроху щодня: регулярність важливіша за обсяг.
# $words: this week's words; $count: last week's words
report-tip-comeback = • Цього тижня { $words } { $words ->
        [one] слово
        [few] слова
       *[many] слів
    } проти { $count } минулого. Виділи 10 хвилин на день, і темп повернеться.
report-tip-diacritics = • Найчастіше помилки в діакритиці (háčky a čárky). Запам'ятай: { $original } → { $suggestion }.
report-tip-accuracy = • Правильність { $correctness }%. Пиши коротші речення й перечитуй виправлення перед наступним повідомленням.
# $words: the average number of words in a message
report-tip-longer = • У середньому { $words } { $words ->
        [one] слово
        [few] слова
       *[many] слів
    } у повідомленні. Спробуй писати по 2–3 речення: так швидше росте словниковий запас.
# $count: unknown words this week
report-tip-unknown = • Деяких слів я не впізнав ({ $count }). Перевір їхнє написання в словнику.
report-tip-challenge = • Спробуй виконати завдання дня: { $goal } { $goal ->
        [one] повідомлення
        [few] повідомлення
       *[many] повідомлень
    } за день.
# $count: percent more words than last week
report-tip-growth = • На { $count }% більше слів, ніж минулого тижня. Так тримати!
report-tip-level-up = • { $correctness }% правильності: чудовий результат! Час ускладнювати: нові теми й довші тексти.
report-tip-streak = • Серія { $streak } { $streak ->
        [one] день
        [few] дні
       *[many] днів
    } поспіль. Не переривай її!
report-tip-keep-going = • Продовжуй у тому ж дусі: трохи чеської щодня.
# The caption of /report: the last 7 local days, today included. $time: e.g. 27.11–03.12
report-recent-title = 📈 Останні 7 днів у Mluv: { $time }, разом із сьогоднішнім
report-recent-empty = За останні 7 днів повідомлень не було. Напиши щось чеською, і звіт оживе!
# $words: the words of the 7 days before the report's 7 days
report-recent-previous = 📊 За 7 днів до цього: { $words } { $words ->
        [one] слово
        [few] слова
       *[many] слів
    }
# As report-tip-comeback and report-tip-growth, for the last 7 days; $count: the 7 days before
report-tip-comeback-recent = • За ці 7 днів { $words } { $words ->
        [one] слово
        [few] слова
       *[many] слів
    } проти { $count } за 7 днів до цього. Виділи 10 хвилин на день, і темп повернеться.
report-tip-growth-recent = • На { $count }% більше слів, ніж за 7 днів до цього. Так тримати!

## Weekly report chart (the picture: its title and the weekday under each bar)

chart-title = Слова за тиждень
chart-title-recent = Слова за останні 7 днів
chart-weekday-mon = Пн
chart-weekday-tue = Вт
chart-weekday-wed = Ср
chart-weekday-thu = Чт
chart-weekday-fri = Пт
chart-weekday-sat = Сб
chart-weekday-sun = Нд
# Under today's bar of the last 7 days, instead of its date
chart-today = сьогодні

## Broadcast progress

# The operator's message while a broadcast runs (edited in place). $done: recipients handled; $count: all
broadcast-progress-running = 📣 Розсилка триває: { $done } з { $count }
broadcast-progress-completed = ✅ Розсилку завершено. Отримувачів: { $count }
broadcast-progress-cancelled = ⏹ Розсилку зупинено: оброблено { $done } з { $count }
broadcast-progress-failed = ⚠️ Розсилку перервано після кількох спроб: оброблено { $done } з { $count }
# $limit: Telegram's text limit, 4096
broadcast-progress-rejected = ⚠️ Розсилку не надіслано: текст порожній або довший за { $limit } символів.
# One line per counter under the heading above; $count: how many recipients
broadcast-progress-sent = ✅ Доставлено: { $count }
broadcast-progress-blocked = 🚫 Заблокували бота: { $count }
broadcast-progress-errors = ⚠️ Помилки: { $count }
broadcast-progress-unknown = ❔ Без підтвердження доставки: { $count }
