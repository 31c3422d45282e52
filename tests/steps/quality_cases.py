"""Labelled documents for the quality chain: real prose that must be kept, and web junk that must go.

The prose is public-domain text (Darwin, Austen, Melville, Thoreau, Lincoln, the US Constitution, Carroll,
Shelley, Twain) with one paragraph a line, as web text comes. The junk is the kind each rule was written for:
navigation menus, keyword spam, cookie banners, code, placeholder text, link lists, tables of numbers.
"""

KEEP = [
    "When we look to the individuals of the same variety or sub-variety of our older cultivated plants and "
    "animals, one of the first points which strikes us, is, that they generally differ much more from each other, "
    "than do the individuals of any one species or variety in a state of nature. When we reflect on the vast "
    "diversity of the plants and animals which have been cultivated, and which have varied during all ages under "
    "the most different climates and treatment, I think we are driven to conclude that this greater variability "
    "is simply due to our domestic productions having been raised under conditions of life not so uniform as, and "
    "somewhat different from, those to which the parent-species have been exposed under nature. There is also, I "
    "think, some probability in the view propounded by Andrew Knight, that this variability may be partly "
    "connected with excess of food. It seems pretty clear that organic beings must be exposed during several "
    "generations to the new conditions of life to cause any appreciable amount of variation.",
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of "
    "a wife.\nHowever little known the feelings or views of such a man may be on his first entering a "
    "neighbourhood, this truth is so well fixed in the minds of the surrounding families, that he is considered "
    'the rightful property of some one or other of their daughters.\n"My dear Mr. Bennet," said his lady to him '
    'one day, "have you heard that Netherfield Park is let at last?"\nMr. Bennet replied that he had not.\n'
    '"But it is," returned she; "for Mrs. Long has just been here, and she told me all about it."\nMr. Bennet '
    "made no answer, and his wife went on with the story of the new tenant and his four or five thousand a year.",
    "Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse, and "
    "nothing particular to interest me on shore, I thought I would sail about a little and see the watery part of "
    "the world. It is a way I have of driving off the spleen and regulating the circulation. Whenever I find "
    "myself growing grim about the mouth; whenever it is a damp, drizzly November in my soul; whenever I find "
    "myself involuntarily pausing before coffin warehouses, and bringing up the rear of every funeral I meet; "
    "then, I account it high time to get to sea as soon as I can. This is my substitute for pistol and ball. "
    "There is nothing surprising in this.",
    "I went to the woods because I wished to live deliberately, to front only the essential facts of life, and see "
    "if I could not learn what it had to teach, and not, when I came to die, discover that I had not lived. I did "
    "not wish to live what was not life, living is so dear; nor did I wish to practise resignation, unless it was "
    "quite necessary. I wanted to live deep and suck out all the marrow of life, to live so sturdily and "
    "Spartan-like as to put to rout all that was not life. Our life is frittered away by detail. Simplify, "
    "simplify. Let your affairs be as two or three, and not a hundred or a thousand.",
    "Four score and seven years ago our fathers brought forth on this continent, a new nation, conceived in "
    "Liberty, and dedicated to the proposition that all men are created equal.\nNow we are engaged in a great civil "
    "war, testing whether that nation, or any nation so conceived and so dedicated, can long endure. We are met on "
    "a great battle-field of that war. We have come to dedicate a portion of that field, as a final resting place "
    "for those who here gave their lives that that nation might live. It is altogether fitting and proper that we "
    "should do this.\nBut, in a larger sense, we can not dedicate, we can not consecrate, we can not hallow this "
    "ground. The brave men, living and dead, who struggled here, have consecrated it, far above our poor power to "
    "add or detract.",
    "We the People of the United States, in Order to form a more perfect Union, establish Justice, insure domestic "
    "Tranquility, provide for the common defence, promote the general Welfare, and secure the Blessings of Liberty "
    "to ourselves and our Posterity, do ordain and establish this Constitution for the United States of America.\n"
    "All legislative Powers herein granted shall be vested in a Congress of the United States, which shall consist "
    "of a Senate and House of Representatives.\nThe House of Representatives shall be composed of Members chosen "
    "every second Year by the People of the several States, and the Electors in each State shall have the "
    "Qualifications requisite for Electors of the most numerous Branch of the State Legislature.\nNo Person shall "
    "be a Representative who shall not have attained to the Age of twenty five Years.",
    "Alice was beginning to get very tired of sitting by her sister on the bank, and of having nothing to do: once "
    "or twice she had peeped into the book her sister was reading, but it had no pictures or conversations in it, "
    '"and what is the use of a book," thought Alice "without pictures or conversations?"\nSo she was considering '
    "in her own mind (as well as she could, for the hot day made her feel very sleepy and stupid), whether the "
    "pleasure of making a daisy-chain would be worth the trouble of getting up and picking the daisies, when "
    "suddenly a White Rabbit with pink eyes ran close by her.\nThere was nothing so very remarkable in that; nor did "
    'Alice think it so very much out of the way to hear the Rabbit say to itself, "Oh dear! Oh dear! I shall be '
    'late!"',
    "You will rejoice to hear that no disaster has accompanied the commencement of an enterprise which you have "
    "regarded with such evil forebodings. I arrived here yesterday, and my first task is to assure my dear sister "
    "of my welfare and increasing confidence in the success of my undertaking. I am already far north of London, "
    "and as I walk in the streets of Petersburgh, I feel a cold northern breeze play upon my cheeks, which braces "
    "my nerves and fills me with delight. Do you understand this feeling? This breeze, which has travelled from "
    "the regions towards which I am advancing, gives me a foretaste of those icy climes.",
    "You don't know about me without you have read a book by the name of The Adventures of Tom Sawyer; but that "
    "ain't no matter. That book was made by Mr. Mark Twain, and he told the truth, mainly. There was things which "
    "he stretched, but mainly he told the truth. That is nothing. I never seen anybody but lied one time or "
    "another, without it was Aunt Polly, or the widow, or maybe Mary. Aunt Polly, Tom's Aunt Polly, she is, and "
    "Mary, and the Widow Douglas is all told about in that book, which is mostly a true book, with some "
    "stretchers, as I said before.",
    "The museum is open from Tuesday to Sunday, and admission is free on the first Sunday of each month. Visitors "
    "with reduced mobility can use the lift at the north entrance, and wheelchairs are available at the cloakroom. "
    "Guided tours in English leave from the main hall at eleven and at three, and last about an hour. Large bags "
    "have to be left in the lockers, which take a one euro coin that is returned when you collect your things. "
    "Photography without flash is allowed in the permanent collection but not in the temporary exhibitions. The "
    "cafe on the second floor serves lunch until half past two.",
]

REMOVE = [
    # navigation menu / link list: short lines without punctuation
    "Home\nAbout us\nProducts\nServices\nBlog\nCareers\nContact\nLogin\nRegister\nHome\nAbout us\nPrivacy\n"
    "Terms\nSitemap\nFollow us on Facebook\nFollow us on Twitter\nCopyright 2024 Example Corp",
    # keyword spam
    "cheap flights cheap flights to paris cheap flights to london cheap flights to rome cheap flights deals "
    "cheap flights online cheap flights booking cheap flights today best cheap flights cheap flights cheap "
    "flights to paris cheap flights to london cheap flights to rome cheap flights deals cheap flights online "
    "cheap flights booking cheap flights today best cheap flights book now.",
    # placeholder text
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et "
    "dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex "
    "ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat "
    "nulla pariatur. Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia deserunt mollit "
    "anim id est laborum. The rest of the page will be written by the team and then the site will go live.",
    # code
    "function init() {\n  var x = document.getElementById('menu');\n  if (x.style.display === 'none') {\n"
    "    x.style.display = 'block';\n  } else {\n    x.style.display = 'none';\n  }\n}\n"
    "window.onload = init;\n// toggles the menu when the page loads, and that is all it does for the user",
    # cookie banner and legal footer only
    "This website uses cookies to improve your experience.\nBy continuing to browse you agree to our use of "
    "cookies.\nRead our privacy policy and our cookie policy.\nAccept all cookies\nReject all\nManage settings",
    # table of numbers
    "2019 1,234 5.6% 12.3 0.45\n2020 1,456 6.1% 13.0 0.47\n2021 1,602 6.8% 13.9 0.51\n2022 1,733 7.2% 14.4 0.53\n"
    "2023 1,901 7.9% 15.2 0.56\n2024 2,044 8.3% 15.8 0.58\n2025 2,210 8.8% 16.5 0.61\n2026 2,390 9.4% 17.1 0.64",
    # teaser list of truncated headlines
    "Ten things you did not know about the city and the people who...\nWhy the new bridge will change the way "
    "we...\nThe mayor says that the plan to build the new...\nFive reasons to visit the old town and have a look "
    "at the...\nWhat the experts think of the price of houses in the...\nHow to get the most out of your trip to "
    "the coast and the...",
    # hashtag spam
    "#travel #travelgram #instatravel #wanderlust #photography #photooftheday #nature #love #instagood #beautiful "
    "#summer #adventure #explore #vacation #holiday #trip #sea #beach #sunset #sky #picoftheday #happy #fun #life "
    "#style #art #follow #like #igers #amazing #tbt #travelblogger #traveling #travelphotography #world #instadaily "
    "#landscape #mountains #city #food #friends #family #the #and #of #to #with #be #that #have",
    # bullet list
    "- Free shipping\n- 30 day returns\n- Secure payment\n- 24/7 support\n- Gift cards\n- Best price guarantee\n"
    "- New arrivals every week\n- Members get 10% off\n- Order before 2pm for same day dispatch\n- Track your order",
    # the same line again and again (scraped comment widget)
    "Reply to this comment and share it with the friends that you have.\n" * 12,
    # very short page
    "Page not found. The page you are looking for does not exist.",
    # short text without the stop words of prose (a product spec)
    "Processor: 8-core 3.2 GHz. Memory: 16 GB DDR5. Storage: 1 TB NVMe SSD. Display: 15.6-inch IPS 2560x1440 "
    "165 Hz. Graphics: 8 GB GDDR6. Ports: 2x USB-C, 3x USB-A, HDMI 2.1, RJ45. Battery: 90 Wh. Weight: 2.1 kg. "
    "Dimensions: 357 x 262 x 22 mm. Colour: black. Warranty: 2 years. Operating system: none. Keyboard: RGB "
    "backlit, full size. Webcam: 1080p. Audio: 2x 2 W speakers. Wireless: Wi-Fi 6E, Bluetooth 5.3.",
    # a tutorial page whose prose is fine but which carries code: its symbols sink the alphabetic-word ratio
    "In this tutorial we will show you how to write a small function that counts the words in a text. The idea "
    "is simple and it works in any language that has maps. First we split the text on white space, and then we "
    "add one to the count of each word that we see.\nHere is the code that does it.\n"
    "const counts = {};\nfor (const w of text.split(' ')) counts[w] = (counts[w] || 0) + 1;\n"
    "That is all there is to it, and you can now use it in your own projects with the rest of the code.",
    # a list of headlines: long lines, no sentence ends (C4 drops them all, then too few sentences remain)
    "Local council approves the budget for the new library and the park in the centre of town\n"
    "Heavy rain expected over the weekend with the risk of floods in the valley and near the river\n"
    "The football club signs a young striker from the academy of a rival team in the north\n"
    "New train timetable to start in May with more services to the airport and to the coast\n"
    "Schools to get extra funding for teachers and for the repair of old buildings in the area\n"
    "Farmers market returns to the square with local food and crafts from the villages nearby",
]

# Clean prose in other languages, public domain: the opening of the Grimms' "Der Froschkönig" (1857 edition)
# and of Lu Xun's "故乡" (1921). The English-tuned defaults remove both (`few_stop_words`, `below_avg_word_length`).
KEEP_DE = (
    "In den alten Zeiten, wo das Wünschen noch geholfen hat, lebte ein König, dessen Töchter waren alle schön, "
    "aber die jüngste war so schön, daß die Sonne selber, die doch so vieles gesehen hat, sich verwunderte, sooft "
    "sie ihr ins Gesicht schien. Nahe bei dem Schlosse des Königs lag ein großer dunkler Wald, und in dem Walde "
    "unter einer alten Linde war ein Brunnen. Wenn nun der Tag recht heiß war, so ging das Königskind hinaus in "
    "den Wald und setzte sich an den Rand des kühlen Brunnens. Und wenn sie Langeweile hatte, so nahm sie eine "
    "goldene Kugel, warf sie in die Höhe und fing sie wieder. Und das war ihr liebstes Spielzeug."
)
KEEP_ZH = (
    "我冒了严寒，回到相隔二千余里，别了二十余年的故乡去。时候既然是深冬；渐近故乡时，天气又阴晦了，冷风吹进船舱中，"
    "呜呜的响，从篷隙向外一望，苍黄的天底下，远近横着几个萧索的荒村，没有一些活气。我的心禁不住悲凉起来了。"
    "阿！这不是我二十年来时时记得的故乡？我所记得的故乡全不如此。我的故乡好得多了。但要我记起他的美丽，"
    "说出他的佳处来，却又没有影像，没有言辞了。仿佛也就如此。于是我自己解释说：故乡本也如此，——虽然没有进步，"
    "也未必有如我所感的悲凉，这只是我自己心情的改变罢了，因为我这次回乡，本没有什么好心绪。"
)
# German junk: a menu of short link lines and repeated keyword spam.
REMOVE_DE = (
    "Startseite\nÜber uns\nProdukte\nKontakt\nImpressum\nDatenschutz\nWarenkorb\nAnmelden\nRegistrieren\n"
    "Schuhe günstig kaufen Schuhe günstig kaufen Schuhe günstig kaufen Schuhe günstig kaufen Schuhe günstig kaufen "
    "Schuhe günstig kaufen Schuhe günstig kaufen Schuhe günstig kaufen Schuhe günstig kaufen Schuhe günstig kaufen"
)
